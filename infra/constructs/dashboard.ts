import type { CfnResource } from 'aws-cdk-lib';
import { Dashboard, GraphWidget, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { QueryDefinition, QueryString } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { LOG_QUERY_FIELDS, PAYLOAD_LINEAGE_QUERY_PARTS } from '../naming.ts';
import type { JoinSweeper } from './join-sweeper.ts';
import type { MergeStage } from './merge-stage.ts';
import { pipelineMetric, sweepMetric } from './pipeline-metrics.ts';
import type { SourceIngest } from './source-ingest.ts';

export type DashboardProps = {
  stage: string;
  fetchRateMinutes: number;
  ingests: SourceIngest[];
  merge: MergeStage;
  sweepers: JoinSweeper[];
  cacheMemoryUsedPercent?: IMetric | undefined;
  alarmOldestPendingMinutes: number;
  alarmCacheMemoryPercent: number;
};

/**
 * The pipeline's dashboard (`Dashboard` in `scope`): the functions' own EMF metrics per part,
 * the mappings' lag and failed batches, the join's pending ids, the cache's memory.
 */
export function pipelineDashboard(scope: Construct, props: DashboardProps): Dashboard {
  const period = props.fetchRateMinutes;
  const perSource = (metricName: string) =>
    props.ingests.map(({ source }) =>
      pipelineMetric(metricName, { service: `fetch-${source.name}` }, period).with({
        label: `${source.name} ${metricName}`,
      }),
    );
  const merge = (metricName: string, statistic = 'Sum') =>
    pipelineMetric(metricName, { service: 'merge' }, period, statistic).with({
      label: metricName,
    });
  const dashboard = new Dashboard(scope, 'Dashboard', { dashboardName: `${props.stage}-pipeline` });
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
    new GraphWidget({
      title: 'OffsetLag (merge mapping)',
      left: [props.merge.offsetLag],
      width: 12,
    }),
    new GraphWidget({
      title: 'Records sent to failed_<topic> (re-drive them)',
      left: [props.merge.failedBatchRecords],
      width: 12,
    }),
    ...props.sweepers.map(
      ({ join }) =>
        new GraphWidget({
          title: `Join ${join}: ids missing a side, and the oldest one's age (s)`,
          left: [sweepMetric('PendingIds', join).with({ label: 'pending ids' })],
          right: [sweepMetric('OldestPendingAge', join).with({ label: 'oldest age (s)' })],
          rightAnnotations: [{ value: props.alarmOldestPendingMinutes * 60, label: 'alarm' }],
          width: 12,
        }),
    ),
    ...(props.cacheMemoryUsedPercent
      ? [
          new GraphWidget({
            title: 'Cache memory used (%)',
            left: [props.cacheMemoryUsedPercent],
            leftAnnotations: [{ value: props.alarmCacheMemoryPercent, label: 'alarm' }],
            width: 12,
          }),
        ]
      : []),
    new GraphWidget({
      title: 'Errors and throttles',
      left: [props.merge, ...props.ingests, ...props.sweepers].flatMap(({ fn }) => [
        fn.metricErrors(),
        fn.metricThrottles(),
      ]),
      width: 12,
    }),
  );
  return dashboard;
}

/** The saved Logs Insights queries (`<stage>-pipeline/<name>`) over the merge's and the fetches' logs. */
export function pipelineQueries(
  scope: Construct,
  props: { stage: string; merge: MergeStage; ingests: SourceIngest[] },
): void {
  const logGroups = [props.merge.logGroup, ...props.ingests.map((ingest) => ingest.logGroup)];
  const query = (id: string, queryString: QueryString) =>
    new QueryDefinition(scope, id, {
      queryDefinitionName: `${props.stage}-pipeline/${id}`,
      queryString,
      logGroups,
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
  // One delivered payload back to the fetch runs of its sides (npm run logs -- --payload).
  query('payload-lineage', new QueryString(PAYLOAD_LINEAGE_QUERY_PARTS));
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
}
