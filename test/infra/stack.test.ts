import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { configFromContext } from '../../infra/config.ts';
import { synthesize } from '../support/synth.ts';

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
      pluginReports: { conclusion: string; violations: unknown[] }[];
    };
    const violations = report.pluginReports.flatMap((plugin) => plugin.violations);
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
    template.resourceCountIs('AWS::Scheduler::Schedule', 2);
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

  it('publishes a dashboard, the alarms on an SNS topic, and four saved queries', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.resourceCountIs('AWS::Logs::QueryDefinition', 4);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThanOrEqual(6);
    for (const alarm of alarms) expect(alarm.Properties?.AlarmActions).toHaveLength(1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'OffsetLag' });
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
  });
});
