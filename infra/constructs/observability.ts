import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type Dashboard,
  type IMetric,
  MathExpression,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DeployTarget } from '../config.ts';
import { pipelineDashboard, pipelineQueries } from './dashboard.ts';
import type { JoinSweeper } from './join-sweeper.ts';
import type { MergeStage } from './merge-stage.ts';
import { pipelineMetric } from './pipeline-metrics.ts';
import type { SourceIngest } from './source-ingest.ts';

/** A part of the stack that watches itself: the alarms it raises, which Observability routes. */
export type ObservedPart = { readonly alarms: Alarm[] };

export type ObservabilityProps = {
  stage: string;
  /**
   * On `localstack`, only the alarms and their topic: LocalStack emulates neither dashboards
   * nor Logs Insights query definitions.
   */
  target: DeployTarget;
  /** Every part with alarms of its own (ingests, merge, replay, sweepers, network, streaming). */
  parts: ObservedPart[];
  ingests: SourceIngest[];
  merge: MergeStage;
  sweepers: JoinSweeper[];
  /** Scheduled fetch runs that failed or that Scheduler could not hand to Lambda. */
  missedRuns: Queue;
  /** The cache's memory use in percent, when the stack has an ElastiCache cache. */
  cacheMemoryUsedPercent?: IMetric | undefined;
  fetchRateMinutes: number;
  alarmEmail?: string | undefined;
  alarmOldestPendingMinutes: number;
  alarmCacheMemoryPercent: number;
};

/**
 * What an operator looks at: every part's alarms (and the stack-wide ones: missed fetch runs,
 * cache memory) to one encrypted SNS topic, the dashboard and the saved Logs Insights queries
 * (the last two on the aws target only).
 */
export class Observability extends Construct {
  readonly alarmTopic: Topic;
  readonly alarms: Alarm[];
  /** The dashboard (aws target only). */
  readonly dashboard?: Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.alarmTopic = this.#alarmTopic(props);
    const notify = new SnsAction(this.alarmTopic);
    this.alarms = [...this.#stackAlarms(props), ...props.parts.flatMap((part) => part.alarms)];
    // An OK notification closes each page: the operator sees the incident end, not only begin.
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
    }
    if (props.target !== 'aws') return;
    this.dashboard = pipelineDashboard(this, props);
    pipelineQueries(this, props);
  }

  /**
   * CloudWatch can publish to an encrypted topic only through a customer managed key that lets
   * it use the key (the AWS managed alias/aws/sns key cannot), and a topic policy.
   */
  #alarmTopic(props: ObservabilityProps): Topic {
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
    const topic = new Topic(this, 'Alarms', {
      displayName: `${props.stage} pipeline alarms`,
      enforceSSL: true,
      masterKey: alarmKey,
    });
    topic.addToResourcePolicy(
      new PolicyStatement({
        principals: [cloudwatch],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: fromOurAlarms,
      }),
    );
    if (props.alarmEmail) topic.addSubscription(new EmailSubscription(props.alarmEmail));
    return topic;
  }

  /** Alarms on what no single part owns: the shared missed-run queue and the cache. */
  #stackAlarms(props: ObservabilityProps): Alarm[] {
    const alarms = [
      new Alarm(this, 'MissedFetchRuns', {
        alarmDescription:
          'A scheduled fetch run failed or never started (its event was sent to the missed-fetch-runs queue in the last 5 minutes); the next scheduled run reads the source again (docs/deploy.md, "Alarms").',
        // Messages sent in the period, not messages waiting: nothing drains the queue (it is a
        // record kept 14 days), so a waiting message would hold the alarm for two weeks and hide
        // every later miss.
        metric: props.missedRuns.metricNumberOfMessagesSent({
          period: Duration.minutes(5),
          statistic: 'Sum',
        }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
    alarms.push(
      new Alarm(this, 'RecordsQuarantined', {
        alarmDescription:
          'Records were quarantined (by a fetch or the merge) with their reason: the quarantine topic keeps them 7 days; their log lines (message "record quarantined", npm run logs -- --aws --level WARN) say why (docs/deploy.md, "Alarms").',
        metric: new MathExpression({
          expression: `SUM([${props.ingests.map((_, index) => `f${index}`).join(', ')}, merge])`,
          usingMetrics: {
            ...Object.fromEntries(
              props.ingests.map(({ source }, index) => [
                `f${index}`,
                pipelineMetric('Quarantined', { service: `fetch-${source.name}` }, 5),
              ]),
            ),
            merge: pipelineMetric('Quarantined', { service: 'merge' }, 5),
          },
          period: Duration.minutes(5),
          label: 'records quarantined',
        }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // The functions write Quarantined only when they quarantine something.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
    alarms.push(mergeNotInvokedAlarm(this, props));
    if (props.cacheMemoryUsedPercent)
      alarms.push(
        new Alarm(this, 'CacheMemoryHigh', {
          alarmDescription: `A cache node uses more than ${props.alarmCacheMemoryPercent}% of its memory (DatabaseMemoryUsagePercentage). A full node evicts keys or refuses writes, as its maxmemory-policy says: lost join halves never join, lost delivered-payload records let a payload go out twice, refused writes fail the merge. Use a larger pipeline:cacheNodeType, or a shorter JOIN_TTL_SECONDS.`,
          metric: props.cacheMemoryUsedPercent,
          threshold: props.alarmCacheMemoryPercent,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 5,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    return alarms;
  }
}

/**
 * Length of one MergeNotInvoked period, two of which in a row page: 15 minutes, or one fetch
 * interval when the fetches run less often (so every period holds a fetch), at most 12 hours
 * (CloudWatch evaluates an alarm over one day at most).
 */
export function mergeSilencePeriod(fetchRateMinutes: number): Duration {
  return Duration.minutes(Math.min(12 * 60, Math.max(15, fetchRateMinutes)));
}

/**
 * Records are published and the merge is never invoked: its mappings are not polling (disabled,
 * failing to reach the cluster, or their role refused). Such a mapping publishes no OffsetLag,
 * the merge no errors, and nothing else pages, while every record waits on its topic. Two
 * periods in a row, so a record published at the end of one period and merged at the start of
 * the next does not page. A period in which no fetch ran or published anything is 0.
 */
function mergeNotInvokedAlarm(scope: Construct, props: ObservabilityProps): Alarm {
  const period = mergeSilencePeriod(props.fetchRateMinutes);
  const minutes = period.toMinutes();
  const published = props.ingests.map((_, index) => `p${index}`);
  return new Alarm(scope, 'MergeNotInvoked', {
    alarmDescription: `The fetches published records in each of the last two ${minutes}-minute periods and the merge was not invoked once: its event source mappings are not delivering (state, LastProcessingResult, the cluster's security group, the function role). Records wait on their topics within retention (docs/deploy.md, "Alarms").`,
    metric: new MathExpression({
      expression: `IF(SUM([${published.map((id) => `FILL(${id}, 0)`).join(', ')}]) > 0 AND FILL(invocations, 0) == 0, 1, 0)`,
      usingMetrics: {
        ...Object.fromEntries(
          props.ingests.map(({ source }, index) => [
            `p${index}`,
            pipelineMetric('Published', { service: `fetch-${source.name}` }, minutes),
          ]),
        ),
        invocations: props.merge.fn.metricInvocations({ period }),
      },
      period,
      label: 'published, merge silent',
    }),
    threshold: 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 2,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}
