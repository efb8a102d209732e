import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { configFromContext } from '../../infra/config.ts';
import { sourceSecretShape } from '../../infra/constructs/credential-secrets.ts';
import type { SourceDefinition } from '../../shared/sources/definition.ts';
import { SOURCES } from '../../shared/sources/registry.ts';
import { cdkJsonContext, synthesize } from '../support/synth.ts';

/*
 * What a first `cdk deploy` into a fresh account needs from the template, one assertion per
 * thing that would have rolled it back or left it quietly broken.
 */

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
type Statement = { Action: string | string[]; Resource: unknown; Principal?: unknown };

let template: Template;

beforeAll(() => {
  ({ template } = synthesize({ 'pipeline:stage': 'fresh' }));
});

const resources = (type: string) =>
  Object.entries(template.findResources(type) as Record<string, Resource>);
const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];
const statementsOf = (type: string, path: (props: Record<string, unknown>) => unknown) =>
  resources(type).flatMap(
    ([, resource]) => (path(resource.Properties) as { Statement: Statement[] }).Statement,
  );
const policyStatements = () => statementsOf('AWS::IAM::Policy', (props) => props.PolicyDocument);

describe('a first deploy into a fresh account', () => {
  it('reserves no concurrency (a new account keeps all 10 of its quota unreserved)', () => {
    for (const [, fn] of resources('AWS::Lambda::Function'))
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('reserves fetch concurrency only when asked to', () => {
    const { template: reserved } = synthesize({
      'pipeline:stage': 'fresh',
      'pipeline:fetchReservedConcurrency': 1,
    });
    const fetchers = Object.values(
      reserved.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { SOURCE: Match.anyValue() } } },
      }),
    ) as Resource[];
    expect(fetchers).toHaveLength(2);
    for (const fn of fetchers) expect(fn.Properties.ReservedConcurrentExecutions).toBe(1);
  });

  it("creates topics at the broker's default replication, which MSK Serverless requires", () => {
    template.hasResourceProperties('Custom::KafkaTopics', { replicationFactor: -1 });
  });

  it('lets the topic admin add partitions to the topics (a deploy that declares more)', () => {
    const adminStatements = resources('AWS::IAM::Policy')
      .filter(([id]) => id.startsWith('StreamingTopicAdmin'))
      .flatMap(
        ([, policy]) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
      );
    const onTopics = adminStatements.filter((statement) =>
      JSON.stringify(statement.Resource).includes(':topic/'),
    );
    expect(onTopics.flatMap(actionsOf)).toEqual(
      expect.arrayContaining(['kafka-cluster:CreateTopic', 'kafka-cluster:AlterTopic']),
    );
  });

  it('encrypts the alarm topic with a key CloudWatch may use, and lets CloudWatch publish', () => {
    const [[, topic]] = resources('AWS::SNS::Topic') as [[string, Resource]];
    const keyRef = topic.Properties.KmsMasterKeyId as { 'Fn::GetAtt'?: string[] };
    const keyId = keyRef['Fn::GetAtt']?.[0] ?? '';
    const key = template.findResources('AWS::KMS::Key')[keyId] as Resource | undefined;
    if (!key) throw new Error(`the alarm topic's key ${keyId} is not in the template`);
    const keyStatements = (key.Properties.KeyPolicy as { Statement: Statement[] }).Statement;
    expect(keyStatements).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );
    const topicStatements = statementsOf('AWS::SNS::TopicPolicy', (props) => props.PolicyDocument);
    expect(topicStatements).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Effect: 'Allow',
      }),
    );
  });

  it('runs scheduled fetches once: no Lambda async retries, and a dead-letter queue on the schedules', () => {
    const fetchers = Object.keys(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { SOURCE: Match.anyValue() } } },
      }),
    );
    expect(fetchers).toHaveLength(2);
    for (const logicalId of fetchers)
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: logicalId },
        MaximumRetryAttempts: 0,
        DestinationConfig: {
          OnFailure: {
            Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MissedFetchRuns'), 'Arn'] },
          },
        },
      });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MissedFetchRuns'), 'QueueName'] },
        },
      ],
    });
    // The sweeper's schedule has no dead-letter queue: its next run, a minute later, redoes it.
    const schedules = resources('AWS::Scheduler::Schedule').filter(
      ([id]) => !id.startsWith('Schedulesweep'),
    );
    expect(schedules).toHaveLength(2);
    for (const [, schedule] of schedules)
      expect(schedule.Properties.Target).toMatchObject({
        RetryPolicy: { MaximumRetryAttempts: 0 },
        DeadLetterConfig: {
          Arn: { 'Fn::GetAtt': [expect.stringMatching(/^MissedFetchRuns/), 'Arn'] },
        },
      });
  });

  it('computes the merge error rate with documented metric math', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: '100 * errors / invocations' })]),
    });
  });

  it('creates no secret to fill in later: Analytics takes none by default, as the original API', () => {
    expect(
      resources('AWS::SecretsManager::Secret')
        .map(([id]) => id)
        .filter((id) => !id.startsWith('Cache')),
    ).toEqual([]);
    for (const [, fn] of resources('AWS::Lambda::Function')) {
      const environment = fn.Properties.Environment as
        | { Variables?: Record<string, unknown> }
        | undefined;
      expect(environment?.Variables?.ANALYTICS_TOKEN_SECRET_ARN).toBeUndefined();
    }
  });

  it('reads the Analytics token from the existing secret named in context, and may read only it', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:analytics-token-AbC123';
    const { template: withToken } = synthesize({
      'pipeline:stage': 'fresh',
      'pipeline:analyticsTokenSecretArn': arn,
    });
    expect(Object.keys(withToken.findResources('AWS::SecretsManager::Secret'))).toEqual([
      expect.stringMatching(/^CacheAuthToken/),
    ]);
    const readers = Object.values(
      withToken.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { ANALYTICS_TOKEN_SECRET_ARN: arn } } },
      }),
    );
    expect(readers).toHaveLength(4);
    const granted = Object.entries(withToken.findResources('AWS::IAM::Policy')).filter(
      ([, policy]) => JSON.stringify(policy).includes(arn),
    );
    expect(granted.map(([id]) => id).sort()).toEqual([
      expect.stringMatching(/^MergeRole/),
      expect.stringMatching(/^RedriveRole/),
      expect.stringMatching(/^ReplayRole/),
      expect.stringMatching(/^SweepmainRole/),
    ]);
  });

  it('takes only a secret ARN for a credential, naming the key otherwise', () => {
    expect(() =>
      configFromContext((key) =>
        key === 'pipeline:analyticsTokenSecretArn' ? 'not-an-arn' : undefined,
      ),
    ).toThrow(
      'context pipeline:analyticsTokenSecretArn must be the ARN of a Secrets Manager secret',
    );
  });

  it('refuses a bad delivery mode or batch limit at synth, naming the context key', () => {
    const context = (values: Record<string, string>) => (key: string) =>
      values[key.replace('pipeline:', '')];
    expect(() => configFromContext(context({ analyticsDelivery: 'bacth' }))).toThrow(
      /^context pipeline:analyticsDelivery: Invalid configuration: ANALYTICS_DELIVERY .*"single"\|"batch"/,
    );
    expect(() => configFromContext(context({ analyticsBatchMaxBytes: '10' }))).toThrow(
      /^context pipeline:analyticsBatchMaxBytes: Invalid configuration: ANALYTICS_BATCH_MAX_BYTES /,
    );
    expect(() => configFromContext(context({ analyticsEventIdField: 'event id' }))).toThrow(
      'context pipeline:analyticsEventIdField: Invalid configuration: ANALYTICS_EVENT_ID_FIELD must be a plain field name',
    );
    expect(
      configFromContext(context({ analyticsDelivery: 'batch', analyticsBatchMaxEvents: '2000' }))
        .analyticsDelivery,
    ).toEqual({ ANALYTICS_DELIVERY: 'batch', ANALYTICS_BATCH_MAX_EVENTS: '2000' });
  });

  it("shapes a source's secret after its declared auth", () => {
    const shapeOf = (auth: SourceDefinition['auth']) =>
      sourceSecretShape({ ...SOURCES.crm, auth })?.fields;
    expect(shapeOf({ type: 'none' })).toBeUndefined();
    expect(shapeOf({ type: 'bearer' })).toEqual(['token']);
    expect(shapeOf({ type: 'apiKey', in: 'query', name: 'key' })).toEqual(['token']);
    expect(shapeOf({ type: 'basic' })).toEqual(['username', 'password']);
    expect(shapeOf({ type: 'oauth2', tokenUrl: 'https://id.example/token' })).toEqual([
      'clientId',
      'clientSecret',
    ]);
  });

  it('grants no kafka-cluster:AlterCluster, no SCRAM listing and no AWS managed policy to our functions', () => {
    const actions = policyStatements().flatMap(actionsOf);
    expect(actions).not.toContain('kafka-cluster:AlterCluster');
    expect(actions).not.toContain('kafka:ListScramSecrets');
    const roles = resources('AWS::IAM::Role').filter(([id]) =>
      /^(Fetch|Merge|Replay|Sweep|StreamingTopicAdmin)/.test(id),
    );
    expect(roles).toHaveLength(6);
    for (const [, role] of roles) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('lets each function write logs to its own log group only', () => {
    const logStatements = policyStatements().filter((s) =>
      actionsOf(s).some((action) => action.startsWith('logs:')),
    );
    expect(logStatements.length).toBeGreaterThanOrEqual(5);
    for (const statement of logStatements) {
      expect(statement.Resource).not.toBe('*');
      expect(JSON.stringify(statement.Resource)).toMatch(/"Fn::GetAtt":\["\w+Logs\w*","Arn"\]/);
    }
  });

  it('limits each VPC endpoint to the calls the pipeline makes through it', () => {
    const endpoints = resources('AWS::EC2::VPCEndpoint').filter(
      ([, endpoint]) => endpoint.Properties.VpcEndpointType === 'Interface',
    );
    // Secrets Manager and SQS; no STS: nothing calls it (provisioned pollers do not need it).
    expect(endpoints).toHaveLength(2);
    for (const [, endpoint] of endpoints) {
      const statements = (endpoint.Properties.PolicyDocument as { Statement: Statement[] })
        .Statement;
      const actions = statements.flatMap(actionsOf);
      expect(actions.length).toBeGreaterThan(0);
      for (const action of actions) expect(action).not.toMatch(/\*$/);
    }
  });

  it('gives every function, the CDK framework ones included, a log group with retention', () => {
    const groups = new Map(resources('AWS::Logs::LogGroup'));
    const namedGroups = [...groups.values()].map((group) =>
      JSON.stringify(group.Properties.LogGroupName),
    );
    for (const [logicalId, fn] of resources('AWS::Lambda::Function')) {
      const logging = fn.Properties.LoggingConfig as { LogGroup?: { Ref?: string } } | undefined;
      const group = logging?.LogGroup?.Ref ? groups.get(logging.LogGroup.Ref) : undefined;
      const byName = namedGroups.some((name) => name?.includes(`{"Ref":"${logicalId}"}`));
      expect({ logicalId, managed: Boolean(group) || byName }).toEqual({
        logicalId,
        managed: true,
      });
    }
    for (const [, group] of groups) expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
  });

  it('gives the dead-letter queue six times its consumer timeout of visibility', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'fresh-pipeline-dead-letters',
      VisibilityTimeout: 6 * 5 * 60,
    });
  });

  it('deletes data with a dev stack and keeps it with any other', () => {
    const dataTypes = ['AWS::MSK::ServerlessCluster', 'AWS::ElastiCache::ReplicationGroup'];
    const { template: dev } = synthesize({ 'pipeline:stage': 'dev' });
    // What holds no data goes with the stack whatever the stage: the alarm key, the flow logs.
    for (const type of ['AWS::KMS::Key', 'AWS::Logs::LogGroup'])
      for (const resource of Object.values(dev.findResources(type)))
        expect(resource.DeletionPolicy).toBe('Delete');
    for (const type of dataTypes) {
      for (const resource of Object.values(dev.findResources(type)))
        expect(resource.DeletionPolicy).toBe('Delete');
      for (const [, resource] of resources(type)) expect(resource.DeletionPolicy).toBe('Retain');
    }
  });

  it('lets both Kafka mappings share one group of provisioned pollers', () => {
    const mappings = resources('AWS::Lambda::EventSourceMapping').filter(
      ([, mapping]) => mapping.Properties.Topics !== undefined,
    );
    expect(mappings).toHaveLength(2);
    const groups = mappings.map(
      ([, mapping]) =>
        (mapping.Properties.ProvisionedPollerConfig as { PollerGroupName?: string })
          .PollerGroupName,
    );
    expect(groups).toEqual(['fresh-pipeline-merge-pollers', 'fresh-pipeline-merge-pollers']);
  });

  it('carries every feature flag a new CDK app gets (no unconfigured-flags notice)', () => {
    const recommended = JSON.parse(
      readFileSync(join('node_modules', 'aws-cdk-lib', 'recommended-feature-flags.json'), 'utf8'),
    ) as Record<string, unknown>;
    const context = cdkJsonContext();
    for (const [flag, value] of Object.entries(recommended))
      expect({ flag, value: context[flag] }).toEqual({ flag, value });
  });
});
