import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { ReplayEnvironment } from '../../shared/config.ts';
import { type DeliveryBindings, DeliveryFunction } from './delivery-function.ts';

const REPLAY_TIMEOUT_MINUTES = 5;

/**
 * The dead-letter queue (`DeadLetterQueue` in `scope`): payloads Analytics refused after every
 * retry, kept 14 days, encrypted, drained by the replay function once its trigger is enabled.
 */
export function deadLetterQueue(
  scope: Construct,
  props: { queueName: string; removalPolicy: RemovalPolicy },
): Queue {
  return new Queue(scope, 'DeadLetterQueue', {
    queueName: props.queueName,
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    // Six times the replay function's timeout, as Lambda advises for an SQS trigger.
    visibilityTimeout: Duration.minutes(REPLAY_TIMEOUT_MINUTES * 6),
    removalPolicy: props.removalPolicy,
  });
}

export type ReplayFunctionProps = {
  deadLetters: Queue;
  /** The delivery settings the merge has too (Redis and Analytics only: no Kafka, no queue URL). */
  environment: ReplayEnvironment;
  /** Cache and token; the replay sends nothing to the queue it drains. */
  delivery: Omit<DeliveryBindings, 'deadLetters'>;
  vpc: IVpc;
  securityGroup: ISecurityGroup;
  logRetention: RetentionDays;
  logGroupName: string;
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
    ];
  }
}
