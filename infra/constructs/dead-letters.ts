import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { ReplayEnvironment } from '../../shared/config.ts';
import { type DeliveryBindings, DeliveryFunction } from './delivery-function.ts';
import type { FunctionPlacement } from './pipeline-function.ts';

const REPLAY_TIMEOUT_MINUTES = 5;

/** A replay attempt of one letter before it is parked (the dead-letter queue's maxReceiveCount). */
export const REPLAY_ATTEMPTS = 5;

/**
 * The dead-letter queue (`DeadLetterQueue` in `scope`): payloads Analytics refused after every
 * retry, kept 14 days, encrypted, drained by the replay function once its trigger is enabled.
 * A letter the replay fails REPLAY_ATTEMPTS times (Analytics refusing it on its merits) moves to
 * the parking queue (`DeadLetterParking`) instead of cycling until its retention ends;
 * `npm run replay -- --aws --unpark` moves parked letters back once the cause is fixed.
 */
export function deadLetterQueues(
  scope: Construct,
  props: { queueName: string; removalPolicy: RemovalPolicy },
): { deadLetters: Queue; parked: Queue } {
  const parked = new Queue(scope, 'DeadLetterParking', {
    queueName: `${props.queueName}-parked`,
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy: props.removalPolicy,
  });
  const deadLetters = new Queue(scope, 'DeadLetterQueue', {
    deadLetterQueue: { queue: parked, maxReceiveCount: REPLAY_ATTEMPTS },
    queueName: props.queueName,
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    // Six times the replay function's timeout, as Lambda advises for an SQS trigger.
    visibilityTimeout: Duration.minutes(REPLAY_TIMEOUT_MINUTES * 6),
    removalPolicy: props.removalPolicy,
  });
  return { deadLetters, parked };
}

export type ReplayFunctionProps = FunctionPlacement & {
  deadLetters: Queue;
  /** Where letters the replay keeps failing are parked. */
  parked: Queue;
  /** The delivery settings the merge has too (Redis and Analytics only: no Kafka, no queue URL). */
  environment: ReplayEnvironment;
  /** Cache and token; the replay sends nothing to the queue it drains. */
  delivery: Omit<DeliveryBindings, 'deadLetters'>;
};

/**
 * The replay (built as `Replay`): re-delivers dead letters to Analytics through an SQS trigger
 * that is off until an operator enables it, and the alarm that says letters are waiting.
 */
export class ReplayFunction extends DeliveryFunction {
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: ReplayFunctionProps) {
    super(scope, id, {
      entry: 'functions/replay/index.ts',
      description:
        'Re-delivers dead letters to Analytics (enable its SQS trigger to drain the queue)',
      vpc: props.vpc,
      securityGroup: props.securityGroup,
      logRetention: props.logRetention,
      logGroupName: props.logGroupName,
      timeout: Duration.minutes(REPLAY_TIMEOUT_MINUTES),
      environment: props.environment,
      delivery: props.delivery,
    });
    this.fn.addEventSource(
      new SqsEventSource(props.deadLetters, {
        enabled: false,
        batchSize: 10,
        // At most two replays at once, without reserving any of the account's concurrency.
        maxConcurrency: 2,
        reportBatchItemFailures: true,
      }),
    );
    this.alarms = [
      new Alarm(this, 'DeadLettersWaiting', {
        alarmDescription:
          'Payloads Analytics refused after retries are waiting in the dead-letter queue; fix Analytics, then enable the replay trigger.',
        metric: props.deadLetters.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'DeadLettersParked', {
        alarmDescription: `Letters the replay failed to deliver ${REPLAY_ATTEMPTS} times are parked: Analytics refuses them on their merits. Fix the cause, then npm run replay -- --aws --unpark (docs/deploy.md, "Alarms").`,
        metric: props.parked.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // An empty queue publishes 0; missing data is a queue too new to have reported.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
  }
}
