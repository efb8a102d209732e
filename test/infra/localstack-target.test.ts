import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { configFromContext } from '../../infra/config.ts';
import { LOCALSTACK_ENDPOINTS } from '../../infra/localstack.ts';
import { localstackSupport, SUPPORTED_INTRINSICS } from '../support/localstack-supported-types.ts';
import { synthesize } from '../support/synth.ts';
import { type DeployedFunction, deployedFunctions } from '../support/template-functions.ts';

/*
 * The localstack target (pipeline:target=localstack): the same stack as on AWS, with only what
 * LocalStack cannot emulate swapped for the containers of docker-compose.localstack.yml.
 */

type Resource = { Type: string; Properties?: Record<string, unknown> };
type TemplateJson = { Resources: Record<string, Resource>; Outputs?: Record<string, unknown> };

let local: Template;
let aws: Template;
let localOutdir: string;
let functions: DeployedFunction[];

beforeAll(() => {
  const synthesized = synthesize({ 'pipeline:target': 'localstack', 'pipeline:stage': 'local' });
  local = synthesized.template;
  localOutdir = synthesized.outdir;
  functions = deployedFunctions(local, localOutdir);
  aws = synthesize({ 'pipeline:stage': 'local' }).template;
});

const resourcesOf = (template: Template) => (template.toJSON() as TemplateJson).Resources;
const typesOf = (template: Template) =>
  new Set(Object.values(resourcesOf(template)).map((resource) => resource.Type));
const fn = (name: string) => {
  const found = functions.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no function ${name}`);
  return found;
};

describe('the localstack target swaps only what LocalStack cannot emulate', () => {
  it('has no MSK cluster: the functions that use Kafka use the compose broker, without IAM auth', () => {
    expect([...typesOf(local)].filter((type) => type.startsWith('AWS::MSK::'))).toEqual([]);
    // Nor the SDK-call custom resource that reads MSK's bootstrap brokers.
    expect(Object.keys(local.findResources('Custom::AWS'))).toEqual([]);
    expect(functions.length).toBeGreaterThan(0);
    // The replay reads the SQS queue and delivers to Analytics: no Kafka at all.
    const kafkaUsers = functions.filter((deployed) => deployed.name !== 'Replay');
    expect(kafkaUsers.length).toBe(functions.length - 1);
    for (const deployed of kafkaUsers) {
      expect({ fn: deployed.name, env: deployed.environment }).toMatchObject({
        fn: deployed.name,
        env: { KAFKA_BROKERS: LOCALSTACK_ENDPOINTS.kafkaBootstrapServers, KAFKA_AUTH: 'none' },
      });
    }
  });

  it('reads both source topics through self-managed Kafka mappings pointing at the compose broker', () => {
    const mappings = Object.values(resourcesOf(local)).filter(
      (resource) =>
        resource.Type === 'AWS::Lambda::EventSourceMapping' &&
        resource.Properties?.SelfManagedEventSource !== undefined,
    );
    expect(mappings.map((mapping) => mapping.Properties?.Topics).sort()).toEqual([
      ['customer_data'],
      ['inventory_data'],
    ]);
    for (const topic of ['customer_data', 'inventory_data']) {
      local.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        Topics: [topic],
        SelfManagedEventSource: {
          Endpoints: { KafkaBootstrapServers: [LOCALSTACK_ENDPOINTS.kafkaBootstrapServers] },
        },
        SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: `local-pipeline-merge-${topic}` },
        StartingPosition: 'TRIM_HORIZON',
        EventSourceArn: Match.absent(),
        ProvisionedPollerConfig: Match.absent(),
        DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
  });

  it('has no ElastiCache: merge and replay use the Valkey container, without TLS or AUTH', () => {
    expect([...typesOf(local)].filter((type) => type.startsWith('AWS::ElastiCache::'))).toEqual([]);
    for (const name of ['Merge', 'Replay']) {
      expect(fn(name).environment.REDIS_URL).toBe(LOCALSTACK_ENDPOINTS.redisUrl);
      expect(fn(name).environment.REDIS_AUTH_SECRET_ARN).toBeUndefined();
    }
    expect(JSON.stringify(local.toJSON())).not.toContain('rediss://');
  });

  it('fetches on EventBridge rules at the configured rate, not on Scheduler (a mock there)', () => {
    local.resourceCountIs('AWS::Scheduler::Schedule', 0);
    const minutes = configFromContext(() => undefined).fetchRateMinutes;
    for (const name of ['Fetch-crm', 'Fetch-inventory']) {
      local.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: `rate(${minutes} minutes)`,
        State: 'ENABLED',
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [fn(name).logicalId, 'Arn'] },
            RetryPolicy: { MaximumRetryAttempts: 0 },
            DeadLetterConfig: {
              Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MissedFetchRuns'), 'Arn'] },
            },
          }),
        ],
      });
      local.hasResourceProperties('AWS::Lambda::Permission', {
        FunctionName: { 'Fn::GetAtt': [fn(name).logicalId, 'Arn'] },
        Principal: 'events.amazonaws.com',
      });
    }
  });

  it('sweeps the join every minute on an EventBridge rule', () => {
    local.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fn('Sweep-main').logicalId, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 0 },
        }),
      ],
    });
  });

  it('has no dashboard, Logs Insights query definitions or flow log', () => {
    for (const type of [
      'AWS::CloudWatch::Dashboard',
      'AWS::Logs::QueryDefinition',
      'AWS::EC2::FlowLog',
    ]) {
      expect({ type, present: typesOf(local).has(type) }).toEqual({ type, present: false });
      expect({ type, onAws: typesOf(aws).has(type) }).toEqual({ type, onAws: true });
    }
  });

  it('creates the same topics through the same custom resource, at replication 1', () => {
    const props = (template: Template) =>
      Object.values(template.findResources('Custom::KafkaTopics'))[0]?.Properties as {
        topics: unknown;
        replicationFactor: number;
      };
    expect(props(local).topics).toEqual(props(aws).topics);
    expect(props(local).replicationFactor).toBe(1);
  });

  it('points the functions at the mock APIs of the compose file', () => {
    expect(fn('Fetch-crm').environment.SOURCE_BASE_URL).toBe(
      LOCALSTACK_ENDPOINTS.sourceBaseUrls.crm,
    );
    expect(fn('Fetch-inventory').environment.SOURCE_BASE_URL).toBe(
      LOCALSTACK_ENDPOINTS.sourceBaseUrls.inventory,
    );
    expect(fn('Merge').environment.ANALYTICS_URL).toBe(LOCALSTACK_ENDPOINTS.analyticsUrl);
  });
});

describe('the localstack target keeps the rest of the stack', () => {
  const named = (template: Template, type: string, key: string) =>
    Object.values(template.findResources(type))
      .map((resource) => JSON.stringify(resource.Properties?.[key]))
      .sort();

  it('keeps every function of ours, with the same settings but the swapped endpoints', () => {
    const awsFunctions = deployedFunctions(aws, localOutdir);
    expect(functions.map((f) => f.name).sort()).toEqual(awsFunctions.map((f) => f.name).sort());
    for (const awsFn of awsFunctions) {
      const names = (f: DeployedFunction) =>
        Object.keys(f.environment).filter((name) => name !== 'REDIS_AUTH_SECRET_ARN');
      expect({ fn: awsFn.name, env: names(fn(awsFn.name)) }).toEqual({
        fn: awsFn.name,
        env: names(awsFn),
      });
    }
  });

  it('keeps every queue, alarm, credential secret and mapping', () => {
    expect(named(local, 'AWS::SQS::Queue', 'QueueName')).toEqual(
      named(aws, 'AWS::SQS::Queue', 'QueueName'),
    );
    // All but the cache memory alarm (the Valkey container is no ElastiCache node) and the three
    // on the mappings' EventCount/ErrorCount metrics, which LocalStack does not emulate.
    const awsOnly = [
      'A cache node uses more than',
      'dropped records',
      'failed to write a failed batch',
      'fails to poll its topic',
    ];
    const alarms = (template: Template) =>
      named(template, 'AWS::CloudWatch::Alarm', 'AlarmDescription').filter(
        (description) => !awsOnly.some((text) => description.includes(text)),
      );
    expect(alarms(local)).toEqual(alarms(aws));
    expect(alarms(aws)).toHaveLength(
      named(aws, 'AWS::CloudWatch::Alarm', 'AlarmDescription').length - awsOnly.length,
    );
    const secrets = (template: Template) =>
      named(template, 'AWS::SecretsManager::Secret', 'Description').filter((d) =>
        d.includes('API token'),
      );
    expect(secrets(local)).toEqual(secrets(aws));
    expect(Object.keys(local.findResources('AWS::Lambda::EventSourceMapping'))).toHaveLength(
      Object.keys(aws.findResources('AWS::Lambda::EventSourceMapping')).length,
    );
  });

  it('passes every cdk-nag AwsSolutions rule it does not acknowledge', () => {
    const report = JSON.parse(
      readFileSync(join(localOutdir, 'validation-report.json'), 'utf8'),
    ) as { pluginReports: { violations: unknown[] }[] };
    expect(report.pluginReports.flatMap((plugin) => plugin.violations)).toEqual([]);
  });
});

describe('what LocalStack documents', () => {
  it('uses no resource type outside the list LocalStack documents as supported', () => {
    const undocumented = [...typesOf(local)].filter((type) => !localstackSupport(type));
    expect(undocumented).toEqual([]);
  });

  it('would not pass that check with the aws template (the list is a real filter)', () => {
    const undocumented = [...typesOf(aws)].filter((type) => !localstackSupport(type)).sort();
    expect(undocumented).toEqual(
      expect.arrayContaining([
        'AWS::CloudWatch::Dashboard',
        'AWS::EC2::FlowLog',
        'AWS::Logs::QueryDefinition',
        'AWS::MSK::ServerlessCluster',
      ]),
    );
  });

  it('uses no intrinsic function LocalStack marks unsupported, in resources and outputs', () => {
    const { Resources, Outputs } = local.toJSON() as TemplateJson;
    const used = new Set<string>();
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        for (const [key, inner] of Object.entries(value)) {
          if (key === 'Ref' || key.startsWith('Fn::')) used.add(key);
          walk(inner);
        }
      }
    };
    walk({ Resources, Outputs });
    expect([...used].filter((name) => !SUPPORTED_INTRINSICS.includes(name))).toEqual([]);
  });
});
