import { type CfnResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ILogGroup, QueryDefinition, QueryString } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../shared/metrics-names.ts';
import type { DeployConfig, DeployTarget } from '../config.ts';
import { LOG_QUERY_FIELDS } from '../naming.ts';

export type ObservabilityProps = {
  stage: string;
  /**
   * On `localstack`, only the alarms and their topic: LocalStack emulates neither dashboards
   * nor Logs Insights query definitions.
   */
  target: DeployTarget;
  fetchers: { source: string; fn: IFunction; logGroup: ILogGroup }[];
  merge: IFunction;
  mergeLogGroup: ILogGroup;
  deadLetters: Queue;
  /** Scheduled fetch runs that failed or that Scheduler could not hand to Lambda. */
  missedRuns: Queue;
  /** UUIDs of the merge mappings whose failed batches go to their failed_<topic> topics. */
  failedBatchMappings: string[];
  /** The sweeper of each join, whose metrics (dimensions service=sweep, join) it reports. */
  sweepers: { join: string; fn: IFunction }[];
  /** The cache's memory use in percent, when the stack has an ElastiCache cache. */
  cacheMemoryUsedPercent?: IMetric;
  config: DeployConfig;
};

/**
 * What an operator looks at: a dashboard of the pipeline's own metrics (EMF from the functions)
 * and the mapping's OffsetLag, alarms to an SNS topic, and saved Logs Insights queries (the
 * last two on the aws target only).
 */
export class Observability extends Construct {
  readonly alarmTopic: Topic;
  /** The dashboard (aws target only). */
  readonly dashboard?: Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { config } = props;
    // CloudWatch can publish to an encrypted topic only through a customer managed key that
    // lets it use the key (the AWS managed alias/aws/sns key cannot), and a topic policy.
    const { account, region, partition } = Stack.of(this);
    const cloudwatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': account },
      ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
    };
    const alarmKey = new Key(this, 'AlarmTopicKey', {
      // Nothing but alarm notifications is encrypted with it; it goes with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
      description: `${props.stage} pipeline alarm topic`,
      enableKeyRotation: true,
    });
    alarmKey.addToResourcePolicy(
      new PolicyStatement({
        principals: [cloudwatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromOurAlarms,
      }),
    );
    this.alarmTopic = new Topic(this, 'Alarms', {
      displayName: `${props.stage} pipeline alarms`,
      enforceSSL: true,
      masterKey: alarmKey,
    });
    this.alarmTopic.addToResourcePolicy(
      new PolicyStatement({
        principals: [cloudwatch],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: fromOurAlarms,
      }),
    );
    if (config.alarmEmail)
      this.alarmTopic.addSubscription(new EmailSubscription(config.alarmEmail));
    const notify = new SnsAction(this.alarmTopic);
    const pipelineMetric = pipelineMetricOf(config);

    const offsetLag = new Metric({
      namespace: 'AWS/Lambda',
      metricName: 'OffsetLag',
      dimensionsMap: { FunctionName: props.merge.functionName },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
    const failedBatchRecords = failedBatchMetric(props.failedBatchMappings);
    const alarms = [
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
      new Alarm(this, 'MissedFetchRuns', {
        alarmDescription:
          'A scheduled fetch run failed or never started (its event is in the missed-fetch-runs queue); the next scheduled run reads the source again.',
        metric: props.missedRuns.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'FailedBatches', {
        alarmDescription:
          'The merge mappings gave up on a batch: its records are on failed_<topic>; once Redis and Analytics are healthy, invoke the redrive function (docs/deploy.md).',
        metric: failedBatchRecords,
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'OffsetLagGrowing', {
        alarmDescription: 'The merge function is falling behind the source topics.',
        metric: offsetLag,
        threshold: config.alarmOffsetLag,
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
            errors: props.merge.metricErrors(),
            invocations: props.merge.metricInvocations(),
          },
          period: Duration.minutes(5),
          label: 'merge error %',
        }),
        threshold: 5,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      ...props.fetchers.map(
        ({ source }) =>
          new Alarm(this, `NoFetchSuccess-${source}`, {
            alarmDescription: `No successful fetch of ${source} in ${config.alarmMissedFetchPeriods} schedule periods.`,
            metric: pipelineMetric('FetchSucceeded', { service: `fetch-${source}` }),
            threshold: 1,
            comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluationPeriods: config.alarmMissedFetchPeriods,
            treatMissingData: TreatMissingData.BREACHING,
          }),
      ),
      ...props.sweepers.map(
        ({ join }) =>
          new Alarm(this, `OldestPending-${join}`, {
            alarmDescription: `An id of join ${join} has been missing a required side for more than ${config.alarmOldestPendingMinutes} min (npm run pending -- --aws lists them), or its sweeper has reported nothing for 5 min.`,
            metric: sweepMetric('OldestPendingAge', join),
            threshold: config.alarmOldestPendingMinutes * 60,
            comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluationPeriods: 1,
            // The sweeper reports every minute, 0 when nothing is pending: silence means it fails.
            treatMissingData: TreatMissingData.BREACHING,
          }),
      ),
      ...(props.cacheMemoryUsedPercent
        ? [
            new Alarm(this, 'CacheMemoryHigh', {
              alarmDescription: `A cache node uses more than ${config.alarmCacheMemoryPercent}% of its memory (DatabaseMemoryUsagePercentage). A full node evicts keys or refuses writes, as its maxmemory-policy says: lost join halves never join, lost delivered-payload records let a payload go out twice, refused writes fail the merge. Use a larger pipeline:cacheNodeType, or a shorter JOIN_TTL_SECONDS.`,
              metric: props.cacheMemoryUsedPercent,
              threshold: config.alarmCacheMemoryPercent,
              comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
              evaluationPeriods: 5,
              treatMissingData: TreatMissingData.NOT_BREACHING,
            }),
          ]
        : []),
    ];
    for (const alarm of alarms) alarm.addAlarmAction(notify);
    if (props.target === 'aws')
      this.dashboard = this.#addDashboardAndQueries(props, offsetLag, failedBatchRecords);
  }

  #addDashboardAndQueries(
    props: ObservabilityProps,
    offsetLag: Metric,
    failedBatchRecords: MathExpression,
  ): Dashboard {
    const pipelineMetric = pipelineMetricOf(props.config);
    const perSource = (metricName: string) =>
      props.fetchers.map(({ source }) =>
        pipelineMetric(metricName, { service: `fetch-${source}` }).with({
          label: `${source} ${metricName}`,
        }),
      );
    const merge = (metricName: string, statistic = 'Sum') =>
      pipelineMetric(metricName, { service: 'merge' }, statistic).with({ label: metricName });
    const dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${props.stage}-pipeline`,
    });
    // CloudFormation takes Tags on a dashboard (since 2025); cfn-lint's bundled schema predates it.
    (dashboard.node.defaultChild as CfnResource).addMetadata('cfn-lint', {
      config: { ignore_checks: ['E3002'] },
    });
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Fetched / published',
        left: [...perSource('Fetched'), ...perSource('Published')],
        width: 12,
      }),
      new GraphWidget({
        title: 'Quarantined / retries',
        left: [...perSource('Quarantined'), ...perSource('Retries'), merge('Quarantined')],
        width: 12,
      }),
      new GraphWidget({
        title: 'Merge outcomes',
        left: [merge('Merged'), merge('Posted'), merge('DuplicatesSkipped'), merge('DeadLettered')],
        // Retries after a timeout or reset once the request was sent: a sink that ignores
        // Idempotency-Key may have received those payloads twice (docs/design.md).
        right: [merge('AmbiguousRetries')],
        width: 12,
      }),
      new GraphWidget({
        title: 'Analytics latency (ms) and batch size',
        left: [merge('AnalyticsLatency', 'p99'), merge('AnalyticsLatency', 'p50')],
        right: [merge('BatchSize', 'Average')],
        width: 12,
      }),
      new GraphWidget({ title: 'OffsetLag (merge mapping)', left: [offsetLag], width: 12 }),
      new GraphWidget({
        title: 'Records sent to failed_<topic> (re-drive them)',
        left: [failedBatchRecords],
        width: 12,
      }),
      ...props.sweepers.map(
        ({ join }) =>
          new GraphWidget({
            title: `Join ${join}: ids missing a side, and the oldest one's age (s)`,
            left: [sweepMetric('PendingIds', join).with({ label: 'pending ids' })],
            right: [sweepMetric('OldestPendingAge', join).with({ label: 'oldest age (s)' })],
            rightAnnotations: [
              { value: props.config.alarmOldestPendingMinutes * 60, label: 'alarm' },
            ],
            width: 12,
          }),
      ),
      ...(props.cacheMemoryUsedPercent
        ? [
            new GraphWidget({
              title: 'Cache memory used (%)',
              left: [props.cacheMemoryUsedPercent],
              leftAnnotations: [{ value: props.config.alarmCacheMemoryPercent, label: 'alarm' }],
              width: 12,
            }),
          ]
        : []),
      new GraphWidget({
        title: 'Errors and throttles',
        left: [
          props.merge,
          ...props.fetchers.map((f) => f.fn),
          ...props.sweepers.map((s) => s.fn),
        ].flatMap((fn) => [fn.metricErrors(), fn.metricThrottles()]),
        width: 12,
      }),
    );

    const allGroups = [props.mergeLogGroup, ...props.fetchers.map((f) => f.logGroup)];
    const query = (id: string, queryString: QueryString) =>
      new QueryDefinition(this, id, {
        queryDefinitionName: `${props.stage}-pipeline/${id}`,
        queryString,
        logGroups: allGroups,
      });
    query(
      'trace-one-id',
      new QueryString({
        fields: LOG_QUERY_FIELDS,
        filterStatements: ['id = "REPLACE_WITH_ID"'],
        sort: '@timestamp asc',
        limit: 500,
      }),
    );
    query(
      'dead-lettered',
      new QueryString({
        fields: ['@timestamp', 'id', 'hash', 'reason', 'correlationId'],
        filterStatements: ['message = "payload dead-lettered"'],
        sort: '@timestamp desc',
        limit: 200,
      }),
    );
    query(
      'retries-by-source',
      new QueryString({
        filterStatements: ['message like /request retried/'],
        statsStatements: ['count(*) as retries by service, status, bin(1h)'],
      }),
    );
    query(
      'slowest-invocations',
      new QueryString({
        filterStatements: ['@type = "REPORT"'],
        fields: ['@timestamp', '@log', '@duration', '@maxMemoryUsed', '@requestId'],
        sort: '@duration desc',
        limit: 25,
      }),
    );
    return dashboard;
  }
}

/**
 * Records the mappings handed to their on-failure destination, summed over the mappings: the
 * OnFailureDestinationDeliveredEventCount event-count metric (the mappings' metricsConfig
 * turns it on), per EventSourceMappingUUID.
 */
function failedBatchMetric(mappingIds: string[]): MathExpression {
  const usingMetrics: Record<string, Metric> = {};
  mappingIds.forEach((uuid, index) => {
    usingMetrics[`m${index}`] = new Metric({
      namespace: 'AWS/Lambda',
      metricName: 'OnFailureDestinationDeliveredEventCount',
      dimensionsMap: { EventSourceMappingUUID: uuid },
      statistic: 'Sum',
      period: Duration.minutes(1),
    });
  });
  return new MathExpression({
    expression: `SUM([${Object.keys(usingMetrics).join(', ')}])`,
    usingMetrics,
    period: Duration.minutes(1),
    label: 'failed-batch records',
  });
}

/**
 * A sweeper's EMF metric of one join (dimensions service=sweep, join), its largest value over
 * five minutes: the sweeper writes one every minute.
 */
function sweepMetric(metricName: string, join: string): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: 'sweep', join },
    statistic: 'Maximum',
    period: Duration.minutes(5),
  });
}

/** A metric the functions publish as EMF, over one schedule period. */
function pipelineMetricOf(config: DeployConfig) {
  const period = Duration.minutes(config.fetchRateMinutes);
  return (metricName: string, dimensions: Record<string, string>, statistic = 'Sum') =>
    new Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: dimensions.service ?? '', ...dimensions },
      statistic,
      period,
    });
}
