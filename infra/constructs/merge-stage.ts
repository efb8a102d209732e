import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { type EventSourceMapping, MetricType, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { KafkaDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import type { MergeEnvironment } from '../../shared/config.ts';
import { failedTopicOf } from '../../shared/domain/failed-batch.ts';
import { TOPICS } from '../../shared/sources/registry.ts';
import { type DeliveryBindings, DeliveryFunction } from './delivery-function.ts';
import type { KafkaCluster } from './kafka-cluster.ts';
import type { FunctionPlacement } from './pipeline-function.ts';
import { mappingMetric, pipelineMetric } from './pipeline-metrics.ts';

export type MergeStageProps = FunctionPlacement & {
  /** The source topics the merge reads, one event source mapping each. */
  sourceTopics: string[];
  /** Consumer group of each mapping, by topic. */
  groupOf: (topic: string) => string;
  environment: MergeEnvironment;
  delivery: DeliveryBindings;
  streaming: KafkaCluster;
  batchSize: number;
  batchingWindowSeconds: number;
  retryAttempts: number;
  /**
   * How the mappings poll. `provisioned`: pollers (min 1, max `maxPollers`) shared by both
   * mappings as `pollerGroupName`, with the error-handling controls only that mode has (retry
   * limit, partial batch response, the Kafka on-failure destination). `on-demand` (the small
   * profile): none of those; the merge keeps its own retry budget and writes a batch it gives up
   * on to failed_<topic> itself (docs/design.md). `self-managed`: LocalStack's emulation, which
   * takes the controls but has no pollers to provision.
   */
  mode:
    | { kind: 'provisioned'; maxPollers: number; pollerGroupName: string }
    | { kind: 'on-demand' }
    | { kind: 'self-managed' };
  alarmOffsetLag: number;
};

/**
 * The merge: its function (built as `Merge`, the id its log group has always had), one MSK event
 * source mapping per source topic with its failure topic `failed_<topic>`, its grants, and the
 * alarms on what only the mappings see (failed batches, lag, errors).
 */
export class MergeStage extends DeliveryFunction {
  readonly mappings: EventSourceMapping[];
  /** Where each mapping sends a batch it gave up on: a topic of the same cluster, records and all. */
  readonly failedTopics: string[];
  readonly offsetLag: Metric;
  /**
   * Records handed to failed_<topic>: by the mappings (OnFailureDestinationDeliveredEventCount),
   * or, with on-demand mappings, by the merge itself (its FailedBatchRecords EMF metric).
   */
  readonly failedBatchRecords: IMetric;
  /** Records a mapping gave up on and could not write to failed_<topic> either: lost. */
  readonly droppedRecords: MathExpression;
  readonly failureDestinationErrors: MathExpression;
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: MergeStageProps) {
    super(scope, id, {
      entry: 'functions/merge/index.ts',
      description: 'Joins customers and products by id and delivers them to Analytics once',
      vpc: props.vpc,
      securityGroup: props.securityGroup,
      logRetention: props.logRetention,
      logGroupName: props.logGroupName,
      timeout: Duration.minutes(5),
      memorySize: 1024,
      environment: props.environment,
      delivery: props.delivery,
    });
    const { streaming, sourceTopics, mode } = props;
    this.failedTopics = sourceTopics.map(failedTopicOf);
    // The mappings write failed batches with the function's role (Lambda is the producer).
    streaming.grantWrite(this.fn, [TOPICS.quarantine, ...this.failedTopics], {
      failureDestination: true,
    });
    const groups = sourceTopics.map(props.groupOf);
    streaming.grantConsume(this.fn, sourceTopics, groups, { eventSourceMapping: true });
    // The mappings are written out rather than through ManagedKafkaEventSource, which would add
    // the AWSLambdaMSKExecutionRole managed policy (logs and kafka on "*") and kafka:ListScramSecrets
    // (SASL/SCRAM, not used here); grantConsume gives the same access scoped to this cluster.
    // On LocalStack they read the compose broker as a self-managed Kafka source.
    this.mappings = sourceTopics.map((topic) => this.#mapping(topic, props));
    this.fn.node.addDependency(streaming.topicsResource);

    this.offsetLag = new Metric({
      namespace: 'AWS/Lambda',
      metricName: 'OffsetLag',
      dimensionsMap: { FunctionName: this.fn.functionName },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
    this.failedBatchRecords =
      mode.kind === 'on-demand'
        ? pipelineMetric('FailedBatchRecords', { service: 'merge' }, 1).with({
            label: 'failed-batch records (written by the merge)',
          })
        : mappingMetric(
            'OnFailureDestinationDeliveredEventCount',
            this.mappings.map((mapping) => mapping.eventSourceMappingId),
            'failed-batch records',
          );
    const ids = this.mappings.map((mapping) => mapping.eventSourceMappingId);
    this.droppedRecords = mappingMetric('DroppedEventCount', ids, 'dropped records');
    this.failureDestinationErrors = mappingMetric(
      'OnFailureDestinationDeliveryErrorCount',
      ids,
      'failure destination errors',
    );
    this.alarms = [
      ...this.#alarms(props),
      ...(mode.kind === 'provisioned' ? this.#mappingMetricAlarms() : []),
    ];
  }

  /** The event source mapping of one source topic, with what `props.mode` allows. */
  #mapping(topic: string, props: MergeStageProps): EventSourceMapping {
    const { streaming, mode } = props;
    return this.fn.addEventSourceMapping(`Mapping-${topic}`, {
      ...streaming.mappingSource(),
      kafkaTopic: topic,
      kafkaConsumerGroupId: props.groupOf(topic),
      batchSize: props.batchSize,
      maxBatchingWindow: Duration.seconds(props.batchingWindowSeconds),
      startingPosition: StartingPosition.TRIM_HORIZON,
      ...(mode.kind !== 'on-demand' && {
        retryAttempts: props.retryAttempts,
        // The records themselves, on failed_<topic> of the same cluster (an SQS or SNS
        // destination would get only their coordinates). docs/design.md argues the choice.
        onFailure: new KafkaDlq(failedTopicOf(topic)),
        // FunctionResponseTypes ReportBatchItemFailures: the merge answers with the records
        // whose payload another invocation holds, and Lambda retries each partition from its
        // lowest failed offset instead of the whole batch (docs/design.md).
        reportBatchItemFailures: true,
      }),
      // Provisioned mode: pollers in our VPC, billed while they run; both mappings share one
      // group of pollers, so the pair costs what one mapping would.
      ...(mode.kind === 'provisioned' && {
        provisionedPollerConfig: {
          minimumPollers: 1,
          maximumPollers: mode.maxPollers,
          pollerGroupName: mode.pollerGroupName,
        },
        // EventCount: OnFailureDestinationDeliveredEventCount (failed batches written to their
        // topic) and DroppedEventCount (records the mapping could not write there); ErrorCount:
        // OnFailureDestinationDeliveryErrorCount. "Event source mapping metrics",
        // https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
        metricsConfig: { metrics: [MetricType.EVENT_COUNT, MetricType.ERROR_COUNT] },
      }),
    });
  }

  /**
   * Provisioned mode turns on the ErrorCount metrics, so a mapping that cannot poll says so
   * (PollingErrorCount); on-demand mappings have no MetricsConfig here, and the stack-wide
   * MergeNotInvoked alarm covers them.
   *
   * A mapping that cannot write a failed batch to its failure topic drops it: the records are
   * gone from the pipeline (the source topic still holds them until its retention ends). Lambda
   * counts them as DroppedEventCount, and the failed writes as
   * OnFailureDestinationDeliveryErrorCount; either above zero pages. Missing data is a minute
   * without such records, so it is not breaching.
   */
  #mappingMetricAlarms(): Alarm[] {
    const zeroIsHealthy = {
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    };
    return [
      new Alarm(this, 'PollingErrors', {
        alarmDescription:
          'A merge mapping fails to poll its topic (PollingErrorCount): while it does, no record reaches the merge and OffsetLag is not published. Check the mapping state (aws lambda get-event-source-mapping, LastProcessingResult), the cluster, its security group and the function role (docs/deploy.md, "Alarms").',
        metric: mappingMetric(
          'PollingErrorCount',
          this.mappings.map((mapping) => mapping.eventSourceMappingId),
          'polling errors',
        ),
        // A rebalance or a broker's rolling restart makes a poll fail now and then: page when
        // polls fail for 5 minutes on end.
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'DroppedRecords', {
        alarmDescription:
          'A merge mapping dropped records it could not write to failed_<topic>: they are no longer in the pipeline. Re-read them from the source topic (its retention) or the source (npm run state -- backfill), and check the function role can write failed_<topic> (docs/deploy.md, "Alarms").',
        metric: this.droppedRecords,
        ...zeroIsHealthy,
      }),
      new Alarm(this, 'FailureDestinationErrors', {
        alarmDescription:
          'A merge mapping failed to write a failed batch to failed_<topic> (OnFailureDestinationDeliveryErrorCount): the topic, its permissions or the cluster is at fault (docs/deploy.md, "Alarms").',
        metric: this.failureDestinationErrors,
        ...zeroIsHealthy,
      }),
    ];
  }

  #alarms(props: MergeStageProps): Alarm[] {
    return [
      new Alarm(this, 'FailedBatches', {
        alarmDescription:
          'The merge mappings gave up on a batch: its records are on failed_<topic>; once Redis and Analytics are healthy, invoke the redrive function (docs/deploy.md).',
        metric: this.failedBatchRecords,
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'OffsetLagGrowing', {
        alarmDescription: 'The merge function is falling behind the source topics.',
        metric: this.offsetLag,
        threshold: props.alarmOffsetLag,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'MergeErrorRate', {
        alarmDescription:
          'More than 5% of merge invocations failed (each failure retries its batch).',
        metric: new MathExpression({
          // Periods without invocations divide by zero and yield no point (missing data).
          expression: '100 * errors / invocations',
          usingMetrics: {
            errors: this.fn.metricErrors(),
            invocations: this.fn.metricInvocations(),
          },
          period: Duration.minutes(5),
          label: 'merge error %',
        }),
        threshold: 5,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
  }
}
