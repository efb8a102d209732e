import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { AdminEnvironment, FetchEnvironment } from '../../shared/config.ts';
import type { SourceDefinition } from '../../shared/sources/definition.ts';
import { TOPICS } from '../../shared/sources/registry.ts';
import type { DeployTarget } from '../config.ts';
import type { JoinStateCache } from './cache.ts';
import { describeShape, existingSecret, sourceSecretShape } from './credential-secrets.ts';
import { bindCacheAuth } from './delivery-function.ts';
import { scheduleFetch } from './fetch-schedule.ts';
import type { KafkaCluster } from './kafka-cluster.ts';
import { type FunctionPlacement, PipelineFunction } from './pipeline-function.ts';
import { pipelineMetric } from './pipeline-metrics.ts';

/**
 * The queue every source's scheduled runs that failed (Lambda's on-failure destination) or that
 * Scheduler could not hand to Lambda (the schedule's dead-letter queue) land in, as
 * `MissedFetchRuns` in `scope`: a record kept 14 days, not a silent retry.
 */
export function missedRunsQueue(
  scope: Construct,
  queueName: string,
  removalPolicy: RemovalPolicy,
): Queue {
  return new Queue(scope, 'MissedFetchRuns', {
    queueName,
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy,
  });
}

export type SourceIngestProps = FunctionPlacement & {
  source: SourceDefinition;
  /** PIPELINE_SOURCES of the function: its own definition, when it comes from a file. */
  sourcesJson?: string | undefined;
  /** Base URL of the source's API (SOURCE_BASE_URL); undefined when its definition has a url. */
  baseUrl?: string | undefined;
  /** Existing secret with the source's credentials, required when its auth needs one. */
  secretArn?: string | undefined;
  target: DeployTarget;
  /** Broker list and auth every Kafka client of the stack gets. */
  kafkaEnv: AdminEnvironment;
  streaming: KafkaCluster;
  /** The cursor, checkpoint and lease of incremental, resumable runs. */
  cache: JoinStateCache;
  fetchRateMinutes: number;
  reservedConcurrency?: number | undefined;
  /** Where runs that failed, or that Scheduler could not hand over, are kept. */
  missedRuns: IQueue;
  /** Alarm when no fetch has succeeded in this many schedule periods. */
  alarmMissedFetchPeriods: number;
  /** False: the schedule is created disabled (placeholder endpoints). Default true. */
  scheduleEnabled?: boolean;
};

/**
 * What one source gets on AWS: its fetch function (built as `Fetch-<source>`, the id its log
 * group and role have always had), its credentials secret, write access to its topic and the
 * quarantine, its schedule, its missed-run destination and its no-success alarm.
 */
export class SourceIngest extends PipelineFunction {
  readonly source: SourceDefinition;
  /** In ALARM when the source has not been fetched successfully for a while. */
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: SourceIngestProps) {
    const { source } = props;
    super(scope, id, {
      entry: 'functions/fetch/index.ts',
      description: `Fetches ${source.path ?? source.url} from ${source.name} and publishes to ${source.topic}`,
      vpc: props.vpc,
      securityGroup: props.securityGroup,
      logRetention: props.logRetention,
      logGroupName: props.logGroupName,
      timeout: Duration.minutes(5),
      ...(props.reservedConcurrency !== undefined && {
        reservedConcurrency: props.reservedConcurrency,
      }),
      environment: {
        ...props.kafkaEnv,
        SOURCE: source.name,
        ...(props.baseUrl !== undefined && { SOURCE_BASE_URL: props.baseUrl }),
        REDIS_URL: props.cache.url,
        ...(props.sourcesJson !== undefined && { PIPELINE_SOURCES: props.sourcesJson }),
      } satisfies FetchEnvironment,
    });
    this.source = source;
    bindCacheAuth(this, props.cache);
    const shape = sourceSecretShape(source);
    if (shape && !props.secretArn)
      throw new Error(
        `source ${source.name} declares ${source.auth.type} auth: create a Secrets Manager secret holding ${describeShape(shape)} and pass its ARN as -c pipeline:${source.name}SecretArn=… or secrets.${source.name}.arn in the pipeline:config file (docs/deploy.md, step 3)`,
      );
    if (shape && props.secretArn)
      this.bindSecret(
        'SOURCE_SECRET_ARN',
        existingSecret(scope, `${source.name}Secret`, props.secretArn),
      );
    this.fn.node.addDependency(props.streaming.topicsResource);
    props.streaming.grantWrite(this.fn, [source.topic, TOPICS.quarantine]);
    // The next scheduled run starts where this one would have: no retry of a failed run,
    // neither by Scheduler nor by Lambda's own asynchronous retries (2 by default, up to 6 h).
    this.fn.configureAsyncInvoke({
      retryAttempts: 0,
      onFailure: new SqsDestination(props.missedRuns),
    });
    scheduleFetch(scope, `Schedule-${source.name}`, {
      target: props.target,
      fn: this.fn,
      rateMinutes: props.fetchRateMinutes,
      description: `Fetch ${source.name} every ${props.fetchRateMinutes} min`,
      missedRuns: props.missedRuns,
      enabled: props.scheduleEnabled ?? true,
    });
    this.alarms = [
      new Alarm(this, 'NoFetchSuccess', {
        alarmDescription: `The fetch of ${source.name} ran in each of the last ${props.alarmMissedFetchPeriods} schedule periods and never succeeded (docs/deploy.md, "Alarms").`,
        metric: this.#successWhenRun(props.fetchRateMinutes),
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: props.alarmMissedFetchPeriods,
        // No data means the function was not invoked in the window: a stack minutes old, or a
        // schedule an operator turned off. Neither is a failed fetch, and a run Scheduler could
        // not start lands in the missed-run queue, whose own alarm pages.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
  }

  /**
   * Per schedule period: 1 when the function was not invoked, else its successful runs (0 when
   * every run failed). Only a period with runs and no success breaches.
   */
  #successWhenRun(periodMinutes: number): MathExpression {
    return new MathExpression({
      expression: 'IF(FILL(runs, 0) > 0, FILL(succeeded, 0), 1)',
      usingMetrics: {
        runs: this.fn.metricInvocations({
          period: Duration.minutes(periodMinutes),
          statistic: 'Sum',
        }),
        succeeded: this.metricFetchSucceeded(periodMinutes),
      },
      period: Duration.minutes(periodMinutes),
      label: `${this.source.name} successful runs, when it ran`,
    });
  }

  /** Successful runs of this source per schedule period (the fetch's FetchSucceeded EMF metric). */
  metricFetchSucceeded(periodMinutes: number) {
    return pipelineMetric(
      'FetchSucceeded',
      { service: `fetch-${this.source.name}` },
      periodMinutes,
    );
  }
}
