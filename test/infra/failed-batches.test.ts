import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../support/synth.ts';

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
type Resource = { Type: string; Properties: Record<string, unknown> };

const SOURCE_TOPICS = ['customer_data', 'inventory_data'];
const FAILED_TOPICS = SOURCE_TOPICS.map((topic) => `failed_${topic}`);

let aws: Template;
let local: Template;

beforeAll(() => {
  aws = synthesize({ 'pipeline:stage': 'fb' }).template;
  local = synthesize({ 'pipeline:stage': 'fb', 'pipeline:target': 'localstack' }).template;
});

const resourcesOf = (template: Template, type: string) =>
  Object.entries(template.findResources(type) as Record<string, Resource>);

/** The kafka mappings by source topic. */
function mappings(template: Template): Map<string, { id: string; props: Record<string, unknown> }> {
  return new Map(
    resourcesOf(template, 'AWS::Lambda::EventSourceMapping').flatMap(([id, resource]) => {
      const topics = resource.Properties.Topics as string[] | undefined;
      return topics?.[0] ? [[topics[0], { id, props: resource.Properties }]] : [];
    }),
  );
}

/** Statements of the policies attached to the role of the function whose logical id starts so. */
function functionNamed(template: Template, prefix: string): Resource {
  const found = resourcesOf(template, 'AWS::Lambda::Function').find(([id]) =>
    id.startsWith(prefix),
  );
  if (!found) throw new Error(`no function ${prefix}* in the template`);
  return found[1];
}

function statementsOfFunction(template: Template, prefix: string): Statement[] {
  const fn = functionNamed(template, prefix);
  const role = JSON.stringify((fn.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]);
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => JSON.stringify(policy.Properties.Roles).includes(role))
    .flatMap(
      ([, policy]) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
}

const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

/** Whether some statement allows `action` on a resource whose text names `name`. */
const allows = (statements: Statement[], action: string, name: string) =>
  statements.some(
    (statement) =>
      statement.Effect === 'Allow' &&
      actionsOf(statement).includes(action) &&
      JSON.stringify(statement.Resource).includes(name),
  );

describe('failed merge batches', () => {
  for (const [target, template] of [
    ['aws', () => aws],
    ['localstack', () => local],
  ] as const) {
    it(`go, on the ${target} target, to a Kafka topic of the same cluster, records and all`, () => {
      const byTopic = mappings(template());
      expect([...byTopic.keys()].sort()).toEqual(SOURCE_TOPICS);
      for (const topic of SOURCE_TOPICS) {
        expect(byTopic.get(topic)?.props.DestinationConfig).toEqual({
          OnFailure: { Destination: `kafka://failed_${topic}` },
        });
        expect(byTopic.get(topic)?.props.MaximumRetryAttempts).toBe(10);
      }
    });

    it(`have their topics created with the others on the ${target} target`, () => {
      const [[, topics]] = resourcesOf(template(), 'Custom::KafkaTopics') as [[string, Resource]];
      const names = (topics.Properties.topics as { topic: string }[]).map((spec) => spec.topic);
      for (const topic of FAILED_TOPICS) expect(names).toContain(topic);
    });
  }

  it('no longer have an SQS queue that would hold only their coordinates', () => {
    const queues = resourcesOf(aws, 'AWS::SQS::Queue').map(([, q]) => q.Properties.QueueName);
    expect(queues).not.toContain('fb-pipeline-failed-batches');
    expect(queues).toContain('fb-pipeline-dead-letters');
  });

  it('are written with the merge role, which may write those topics and no other new one', () => {
    const merge = statementsOfFunction(aws, 'Merge');
    for (const topic of FAILED_TOPICS) {
      expect(allows(merge, 'kafka-cluster:WriteData', `/${topic}`)).toBe(true);
      expect(allows(merge, 'kafka-cluster:DescribeTopic', `/${topic}`)).toBe(true);
    }
    expect(allows(merge, 'kafka-cluster:WriteData', '/customer_data"')).toBe(false);
  });

  it('raise an alarm when a mapping hands records to its destination', () => {
    const byTopic = mappings(aws);
    for (const { props } of byTopic.values())
      expect(props.MetricsConfig).toEqual({ Metrics: ['EventCount', 'ErrorCount'] });
    const [, alarm] =
      resourcesOf(aws, 'AWS::CloudWatch::Alarm').find(([id]) => id.includes('FailedBatches')) ?? [];
    const text = JSON.stringify(alarm?.Properties);
    expect(text).toContain('OnFailureDestinationDeliveredEventCount');
    expect(text).toContain('EventSourceMappingUUID');
    for (const { id } of byTopic.values()) expect(text).toContain(id);
    expect(alarm?.Properties.Threshold).toBe(0);
    expect(alarm?.Properties.ComparisonOperator).toBe('GreaterThanThreshold');
  });

  it('are re-driven by a function invoked by hand that reads them as its own group', () => {
    const redrive = statementsOfFunction(aws, 'Redrive');
    for (const topic of FAILED_TOPICS)
      expect(allows(redrive, 'kafka-cluster:ReadData', `/${topic}`)).toBe(true);
    expect(allows(redrive, 'kafka-cluster:AlterGroup', '/redrive')).toBe(true);
    expect(allows(redrive, 'kafka-cluster:ReadData', '/customer_data"')).toBe(false);
    // A kafkajs client, not a mapping: nothing that describes the cluster for pollers.
    const actions = redrive.flatMap((statement) => [statement.Action].flat());
    expect(actions).not.toContain('kafka:DescribeClusterV2');
    expect(actions).not.toContain('kafka:GetBootstrapBrokers');
    expect(actions).not.toContain('kafka-cluster:DescribeClusterDynamicConfiguration');
    const merge = statementsOfFunction(aws, 'Merge').flatMap((statement) =>
      [statement.Action].flat(),
    );
    expect(merge).toEqual(
      expect.arrayContaining(['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers']),
    );
    const fn = functionNamed(aws, 'Redrive');
    const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env.ANALYTICS_URL).toBeDefined();
    expect(env.REDIS_URL).toBeDefined();
    // Nothing triggers it: the only mappings are the merge's two and the replay's SQS one.
    const targets = resourcesOf(aws, 'AWS::Lambda::EventSourceMapping').map(([, m]) =>
      JSON.stringify(m.Properties.FunctionName),
    );
    expect(targets.some((target) => target.includes('Redrive'))).toBe(false);
  });
});
