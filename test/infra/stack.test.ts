import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { configFromContext } from '../../infra/config.ts';
import { PAYLOAD_LINEAGE_QUERY } from '../../tools/logs/lineage.ts';
import { synthesize } from '../support/synth.ts';

/** The stack's own warnings for the default context (placeholder URLs, no alarm subscriber). */
const STACK_WARNINGS = new Set([
  'Annotation::pipeline:placeholder-endpoints',
  'Annotation::pipeline:no-alarm-subscriber',
]);

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
type PolicyResource = { Properties: { PolicyDocument: { Statement: Statement[] } } };

let template: Template;
let outdir: string;

beforeAll(() => {
  ({ template, outdir } = synthesize({ 'pipeline:stage': 'test', 'pipeline:mergeBatchSize': 250 }));
});

const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

function allStatements(): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy') as Record<string, PolicyResource>;
  return Object.values(policies).flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

describe('the synthesized stack', () => {
  it('passes every cdk-nag AwsSolutions rule it does not acknowledge', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { conclusion: string; violations: { ruleName: string }[] }[];
    };
    // The report lists warnings too: the one for the placeholder endpoints of the default
    // context is the stack's own (test/infra/silent-failures.test.ts), not a nag finding.
    const violations = report.pluginReports
      .flatMap((plugin) => plugin.violations)
      .filter((violation) => !STACK_WARNINGS.has(violation.ruleName));
    expect(violations).toEqual([]);
  });

  it('has one serverless MSK cluster with IAM auth in the private subnets', () => {
    template.resourceCountIs('AWS::MSK::ServerlessCluster', 1);
    template.hasResourceProperties('AWS::MSK::ServerlessCluster', {
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
    });
  });

  it('creates the four topics at deploy time through a custom resource', () => {
    template.resourceCountIs('Custom::KafkaTopics', 1);
    template.hasResourceProperties('Custom::KafkaTopics', {
      topics: Match.arrayWith([
        { topic: 'customer_data', numPartitions: 6 },
        { topic: 'inventory_data', numPartitions: 6 },
        { topic: 'quarantine', numPartitions: 1 },
        { topic: 'dead_letter', numPartitions: 1 },
      ]),
    });
  });

  it('has an encrypted, authenticated Valkey cache', () => {
    template.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 1);
    template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true,
      AuthToken: Match.anyValue(),
    });
  });

  it('runs one fetch function per source on its own schedule', () => {
    for (const source of ['crm', 'inventory']) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        ReservedConcurrentExecutions: Match.absent(),
        Environment: { Variables: Match.objectLike({ SOURCE: source, KAFKA_AUTH: 'iam' }) },
      });
    }
    // Two fetch schedules and the sweeper's.
    template.resourceCountIs('AWS::Scheduler::Schedule', 3);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      Target: Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 0 } }),
    });
  });

  it('reads API tokens from Secrets Manager, never from plain environment values', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(functions)) {
      const variables = (fn.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
      for (const name of Object.keys(variables)) expect(name).not.toMatch(/TOKEN$|PASSWORD/);
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ REDIS_AUTH_SECRET_ARN: { Ref: Match.anyValue() } }),
      },
    });
  });

  it('triggers the merge function from both source topics with the configured batch', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
    for (const topic of ['customer_data', 'inventory_data']) {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        Topics: [topic],
        BatchSize: 250,
        StartingPosition: 'TRIM_HORIZON',
        MaximumBatchingWindowInSeconds: 1,
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: `test-pipeline-merge-${topic}` },
        DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
        ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 2 },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
  });

  it('keeps refused payloads in an encrypted dead-letter queue, replayable but off by default', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'test-pipeline-dead-letters',
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      Enabled: false,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('gives every function its own log group with retention', () => {
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThanOrEqual(5);
    for (const group of groups) expect(group.Properties?.RetentionInDays).toBeGreaterThan(0);
    const names = groups.map((group) => group.Properties?.LogGroupName).filter(Boolean);
    expect(names).toEqual(
      expect.arrayContaining([
        '/test-pipeline/fetch-crm',
        '/test-pipeline/fetch-inventory',
        '/test-pipeline/merge',
        '/test-pipeline/replay',
        '/test-pipeline/topic-admin',
      ]),
    );
  });

  it('scopes every kafka-cluster action to the cluster, its topics or its groups', () => {
    const kafkaStatements = allStatements().filter((s) =>
      actionsOf(s).some((action) => action.startsWith('kafka-cluster:')),
    );
    expect(kafkaStatements.length).toBeGreaterThan(0);
    for (const statement of kafkaStatements) {
      expect(statement.Resource).not.toBe('*');
      expect(JSON.stringify(statement.Resource)).not.toContain('"*"');
    }
    const dataWrites = kafkaStatements.filter((s) =>
      actionsOf(s).includes('kafka-cluster:WriteData'),
    );
    for (const statement of dataWrites) {
      expect(JSON.stringify(statement.Resource)).toMatch(/:topic\//);
    }
  });

  it('allows no action on "*" except X-Ray tracing and Lambda\'s own VPC network interfaces', () => {
    const wildcards = allStatements().filter((s) => s.Resource === '*');
    const actions = new Set(wildcards.flatMap(actionsOf));
    expect([...actions].sort()).toEqual([
      'ec2:AssignPrivateIpAddresses',
      'ec2:CreateNetworkInterface',
      'ec2:DeleteNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSecurityGroups',
      'ec2:DescribeSubnets',
      'ec2:DescribeVpcs',
      'ec2:UnassignPrivateIpAddresses',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
  });

  it('publishes a dashboard, the alarms on an SNS topic, and five saved queries', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.resourceCountIs('AWS::Logs::QueryDefinition', 5);
    // The lineage query is saved as npm run logs -- --payload runs it, hash left to replace.
    template.hasResourceProperties('AWS::Logs::QueryDefinition', {
      Name: 'test-pipeline/payload-lineage',
      QueryString: PAYLOAD_LINEAGE_QUERY,
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThanOrEqual(6);
    for (const alarm of alarms) expect(alarm.Properties?.AlarmActions).toHaveLength(1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'OffsetLag' });
  });
});

describe('the sweeper of the join', () => {
  type FnResource = { Properties: { Role: { 'Fn::GetAtt': string[] } } };
  const sweeper = () => {
    const found = Object.entries(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'Sweep-main' } } },
      }) as Record<string, FnResource>,
    );
    expect(found).toHaveLength(1);
    return found[0] as [string, FnResource];
  };

  it('runs every minute on Scheduler, once per run', () => {
    const [logicalId] = sweeper();
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      Target: Match.objectLike({
        Arn: { 'Fn::GetAtt': [logicalId, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0 },
      }),
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId },
      MaximumRetryAttempts: 0,
    });
  });

  it('has its own role: its log group, the cache secret, the dead-letter queue, and no Kafka', () => {
    const [, fn] = sweeper();
    const roleId = fn.Properties.Role['Fn::GetAtt'][0] ?? '';
    expect(roleId).toMatch(/^SweepmainRole/);
    const policies = Object.values(
      template.findResources('AWS::IAM::Policy') as Record<
        string,
        PolicyResource & { Properties: { Roles: { Ref: string }[] } }
      >,
    ).filter((policy) => policy.Properties.Roles.some((role) => role.Ref === roleId));
    const actions = policies
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .flatMap(actionsOf);
    expect(actions).toEqual(
      expect.arrayContaining([
        'logs:PutLogEvents',
        'secretsmanager:GetSecretValue',
        'sqs:SendMessage',
      ]),
    );
    expect(actions.filter((action) => action.startsWith('kafka'))).toEqual([]);
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/test-pipeline/sweep-main',
    });
  });

  it("alarms when the join's oldest pending id passes the threshold, or the sweeper falls silent", () => {
    const oldestPending = (threshold: number) => ({
      Metrics: Match.arrayWith([
        Match.objectLike({
          // A sweeper that ran and reported nothing reads as just over the threshold.
          Expression: `IF(FILL(runs, 0) > 0, FILL(oldest, ${threshold + 1}), 0)`,
        }),
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: {
              Namespace: 'KafkaMergePipeline',
              MetricName: 'OldestPendingAge',
              Dimensions: Match.arrayWith([
                { Name: 'join', Value: 'main' },
                { Name: 'service', Value: 'sweep' },
              ]),
            },
            Stat: 'Maximum',
          }),
        }),
      ]),
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', oldestPending(60 * 60));
    const { template: tighter } = synthesize({
      'pipeline:stage': 'test',
      'pipeline:alarmOldestPendingMinutes': 15,
      'pipeline:alarmCacheMemoryPercent': 70,
    });
    tighter.hasResourceProperties('AWS::CloudWatch::Alarm', oldestPending(15 * 60));
    tighter.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: Match.objectLike({ MetricName: 'DatabaseMemoryUsagePercentage' }),
          }),
        }),
      ]),
      Threshold: 70,
    });
  });

  it("alarms on the fullest cache node's memory, every node of the replication group", () => {
    const { template: multiAz } = synthesize({
      'pipeline:stage': 'test',
      'pipeline:cacheNodes': 2,
    });
    const alarms = Object.values(
      multiAz.findResources('AWS::CloudWatch::Alarm', {
        Properties: { Threshold: 80, Metrics: Match.anyValue() },
      }),
    ) as { Properties: { Metrics: Record<string, unknown>[] } }[];
    const memory = alarms.find((alarm) =>
      JSON.stringify(alarm).includes('DatabaseMemoryUsagePercentage'),
    );
    if (!memory) throw new Error('no cache memory alarm');
    const metrics = memory.Properties.Metrics;
    expect(metrics.find((metric) => 'Expression' in metric)).toMatchObject({
      Expression: 'MAX([node1, node2])',
      ReturnData: true,
    });
    const nodes = metrics.flatMap((metric) => {
      const stat = metric.MetricStat as
        | { Metric: { Namespace: string; Dimensions: { Name: string; Value: unknown }[] } }
        | undefined;
      return stat ? [stat.Metric] : [];
    });
    expect(nodes.map((metric) => metric.Namespace)).toEqual(['AWS/ElastiCache', 'AWS/ElastiCache']);
    const [group] = Object.keys(multiAz.findResources('AWS::ElastiCache::ReplicationGroup'));
    expect(nodes.map((metric) => metric.Dimensions)).toEqual(
      ['-001', '-002'].map((suffix) => [
        { Name: 'CacheClusterId', Value: { 'Fn::Join': ['', [{ Ref: group }, suffix]] } },
      ]),
    );
  });

  it('shows pending ids, the oldest age and the cache memory on the dashboard', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard?.Properties?.DashboardBody);
    for (const text of [
      'Join main: ids missing a side',
      'PendingIds',
      'OldestPendingAge',
      'Cache memory used (%)',
      'DatabaseMemoryUsagePercentage',
    ])
      expect({ text, found: body.includes(text) }).toEqual({ text, found: true });
  });
});

describe('stack configuration', () => {
  it('names the bad context key', () => {
    expect(() =>
      configFromContext((key) => (key === 'pipeline:mergeBatchSize' ? 0 : undefined)),
    ).toThrow('context pipeline:mergeBatchSize must be a whole number from 1 to 10000, got 0');
    expect(() =>
      configFromContext((key) => (key === 'pipeline:stage' ? 'Prod!' : undefined)),
    ).toThrow(/pipeline:stage/);
    const context: Record<string, unknown> = {
      'pipeline:fetchRateMinutes': 60,
      'pipeline:alarmMissedFetchPeriods': 25,
    };
    expect(() => configFromContext((key) => context[key])).toThrow(
      /alarmMissedFetchPeriods x pipeline:fetchRateMinutes must be at most 1440 minutes/,
    );
    expect(() =>
      configFromContext((key) =>
        key === 'pipeline:join' ? '{"missing": "emit after soon"}' : undefined,
      ),
    ).toThrow(/context pipeline:join: missing must be "wait", "emit after <duration>"/);
    expect(() =>
      configFromContext((key) => (key === 'pipeline:join' ? '{"missing": ' : undefined)),
    ).toThrow(/context pipeline:join is not JSON/);
    expect(() =>
      configFromContext((key) => (key === 'pipeline:alarmCacheMemoryPercent' ? 120 : undefined)),
    ).toThrow('context pipeline:alarmCacheMemoryPercent must be a whole number from 1 to 100');
  });
});
