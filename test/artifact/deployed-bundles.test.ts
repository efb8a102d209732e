import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AnalyticsMock } from '../../local/mocks/analytics-mock.ts';
import { sampleCustomers, sampleProducts } from '../../local/mocks/dataset.ts';
import { SourceMock } from '../../local/mocks/servers.ts';
import { encodeMskEvent } from '../../shared/domain/msk-event.ts';
import { faultsDir, OwnRedis } from '../faults/network.ts';
import { AwsStandIn } from '../support/aws-stand-ins.ts';
import { readTopic, type TopicMessage } from '../support/kafka.ts';
import { type Invocation, LambdaSandbox } from '../support/lambda-sandbox.ts';
import { synthesize } from '../support/synth.ts';
import {
  type DeployedFunction,
  deployedFunctions,
  lambdaRuntimeEnvironment,
  resolveEnvironment,
} from '../support/template-functions.ts';

/*
 * What `cdk deploy` uploads, run as Lambda would run it: each function's bundle from cdk.out,
 * alone in a folder where nothing but Node's builtins resolves, on Node 22, with the environment
 * the template gives it. Only what has no local twin is stood in for: Refs and GetAtts become the
 * local broker, a password-protected redis-server, the mock APIs and a Secrets Manager / SQS
 * stand-in; KAFKA_AUTH=iam becomes none (the local broker has no IAM listener).
 */

const RECORDS = 30;
// sampleCustomers leaves out every 10th id and sampleProducts every 7th: these ids have both.
const JOINED = Array.from({ length: RECORDS }, (_, i) => String(i + 1)).filter(
  (id) => Number(id) % 10 !== 0 && Number(id) % 7 !== 0,
);
const REDIS_PASSWORD = `artifact-${randomUUID()}`;
/**
 * Packages the AWS SDK's signer asks for only to sign with SigV4a (multi-region endpoints), inside
 * a try/catch that names the package to install. Nothing here signs with SigV4a, and the Lambda
 * runtime does not have them either.
 */
const OPTIONAL_SDK_MODULES = new Set(['@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a']);

let template: Template;
let functions: DeployedFunction[];
let aws: AwsStandIn;
let crm: SourceMock;
let inventory: SourceMock;
let analytics: AnalyticsMock;
let redis: OwnRedis;
let kafka: Kafka;
const sandboxes = new Map<string, LambdaSandbox>();

const secretArn = (logicalId: string) =>
  `arn:aws:secretsmanager:us-east-1:000000000000:secret:${logicalId}`;
const refOf = (value: unknown) => (value as { Ref?: string }).Ref ?? '';

function environmentOf(fn: DeployedFunction): Record<string, string> {
  const resolved = resolveEnvironment(
    fn,
    (name, value) => {
      if (name === 'KAFKA_BROKERS') return inject('kafkaBrokers');
      if (name === 'REDIS_URL') return redis.url;
      if (name.endsWith('_SECRET_ARN')) return secretArn(refOf(value));
      if (name === 'DEAD_LETTER_QUEUE_URL') return `${aws.url}/000000000000/${refOf(value)}`;
      return undefined;
    },
    { KAFKA_AUTH: 'none' },
  );
  return {
    ...lambdaRuntimeEnvironment(fn),
    ...resolved,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    AWS_ENDPOINT_URL_SQS: aws.url,
  };
}

function fnNamed(name: string): DeployedFunction {
  const fn = functions.find((candidate) => candidate.name === name);
  if (!fn) throw new Error(`no function ${name} in the template`);
  return fn;
}

async function sandbox(name: string): Promise<LambdaSandbox> {
  const existing = sandboxes.get(name);
  if (existing) return existing;
  const fn = fnNamed(name);
  const started = await new LambdaSandbox(fn.assetDir, environmentOf(fn), fn.handler).start();
  sandboxes.set(name, started);
  return started;
}

function expectSuccess(invocation: Invocation, sandboxLogs: string[]): unknown {
  if (!invocation.ok)
    throw new Error(
      `${invocation.error.message}\n--- logs ---\n${sandboxLogs.slice(-30).join('\n')}`,
    );
  return invocation.result;
}

/** Messages appended to `topic` since `before` (per-partition high watermarks). */
async function messagesSince(topic: string, before: Map<number, bigint>): Promise<TopicMessage[]> {
  const after = await highWatermarks(topic);
  let total = 0;
  for (const offset of after.values()) total += Number(offset);
  const all = await readTopic(kafka, topic, total, 90_000);
  if (all.length < total)
    throw new Error(`read ${all.length} of the ${total} messages of ${topic}`);
  return all.filter((message) => BigInt(message.offset) >= (before.get(message.partition) ?? 0n));
}

/** Per-partition high watermarks; waits (up to 30 s) for new topics' leaders to be known. */
async function highWatermarks(topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        return new Map(offsets.map((entry) => [entry.partition, BigInt(entry.high)]));
      } catch (error) {
        if (!(error as { retriable?: boolean }).retriable || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

function mskEventOf(messages: TopicMessage[], topic: (message: TopicMessage) => string) {
  return encodeMskEvent(
    messages.map((message) => ({
      topic: topic(message),
      partition: message.partition,
      offset: message.offset,
      timestamp: message.timestamp,
      key: message.key,
      value: message.value,
      headers: message.headers,
    })),
    {
      eventSourceArn: 'arn:aws:kafka:us-east-1:000000000000:cluster/artifact/1',
      bootstrapServers: '',
    },
  );
}

beforeAll(async () => {
  aws = await new AwsStandIn().start();
  crm = await new SourceMock('/customers', sampleCustomers(RECORDS)).start();
  inventory = await new SourceMock('/products', sampleProducts(RECORDS)).start();
  analytics = await new AnalyticsMock().start();
  redis = await new OwnRedis(faultsDir(`artifact-${randomUUID().slice(0, 8)}`), {
    password: REDIS_PASSWORD,
  }).start();
  kafka = new Kafka({ brokers: inject('kafkaBrokers').split(','), logLevel: logLevel.NOTHING });
  const synthesized = synthesize(
    {
      'pipeline:stage': 'artifact',
      'pipeline:crmBaseUrl': crm.url,
      'pipeline:inventoryBaseUrl': inventory.url,
      'pipeline:analyticsUrl': analytics.url,
    },
    { bundle: true },
  );
  template = synthesized.template;
  functions = deployedFunctions(template, synthesized.outdir);
  for (const logicalId of Object.keys(template.findResources('AWS::SecretsManager::Secret'))) {
    const value = logicalId.startsWith('CacheAuthToken')
      ? { password: REDIS_PASSWORD }
      : { token: `token-of-${logicalId}` };
    aws.secrets.set(secretArn(logicalId), JSON.stringify(value));
  }
}, 180_000);

afterAll(async () => {
  for (const running of sandboxes.values()) await running.stop();
  await Promise.all([aws?.close(), crm?.close(), inventory?.close(), analytics?.close()]);
  await redis?.stop();
});

describe('the bundles cdk deploy uploads', () => {
  it('are one ESM bundle per function of ours, for nodejs22.x', () => {
    expect(functions.map((fn) => fn.name).sort()).toEqual([
      'Fetch-crm',
      'Fetch-inventory',
      'Merge',
      'Replay',
      'TopicAdmin',
    ]);
    for (const fn of functions) {
      expect(fn.runtime).toBe('nodejs22.x');
      expect(fn.handler).toBe('index.handler');
    }
  });

  it('import nothing but Node builtins', () => {
    const builtins = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);
    for (const fn of functions) {
      const code = readFileSync(join(fn.assetDir, 'index.mjs'), 'utf8');
      const specifiers = [
        ...code.matchAll(/\bfrom\s*["']([^"']+)["']/g),
        ...code.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g),
        ...code.matchAll(/\brequire\s*\(\s*["']([^"']+)["']\s*\)/g),
      ].map((match) => match[1] ?? '');
      const outside = [...new Set(specifiers)].filter(
        (name) => !builtins.has(name) && !name.startsWith('.') && !OPTIONAL_SDK_MODULES.has(name),
      );
      expect({ fn: fn.name, outside }).toEqual({ fn: fn.name, outside: [] });
    }
  });

  it('load on Node 22 where nothing but Node builtins resolves, with the template environment', async () => {
    for (const fn of functions) {
      const running = await sandbox(fn.name);
      expect({ fn: fn.name, loadError: running.loadError?.message }).toEqual({
        fn: fn.name,
        loadError: undefined,
      });
    }
  });

  it('topic admin creates the declared topics at the broker default replication', async () => {
    const topics = template.findResources('Custom::KafkaTopics');
    const properties = Object.values(topics)[0]?.Properties as Record<string, unknown>;
    // CloudFormation hands custom resources every scalar as a string.
    const asCloudFormationSends = JSON.parse(
      JSON.stringify(properties, (_key, value) =>
        typeof value === 'number' ? String(value) : value,
      ),
    ) as Record<string, unknown>;
    const admin = await sandbox('TopicAdmin');
    const answer = expectSuccess(
      await admin.invoke({
        RequestType: 'Create',
        ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:provider',
        ResponseURL: 'http://127.0.0.1/unused',
        StackId: 'arn:aws:cloudformation:us-east-1:000000000000:stack/artifact/1',
        RequestId: randomUUID(),
        LogicalResourceId: 'StreamingTopics',
        ResourceType: 'Custom::KafkaTopics',
        ResourceProperties: asCloudFormationSends,
      }),
      admin.logs,
    );
    expect(answer).toMatchObject({ PhysicalResourceId: 'pipeline-topics' });
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    try {
      const metadata = await kafkaAdmin.fetchTopicMetadata({
        topics: ['customer_data', 'inventory_data', 'quarantine', 'dead_letter'],
      });
      const partitions = Object.fromEntries(
        metadata.topics.map((topic) => [topic.name, topic.partitions.length]),
      );
      expect(partitions).toEqual({
        customer_data: 6,
        inventory_data: 6,
        quarantine: 1,
        dead_letter: 1,
      });
    } finally {
      await kafkaAdmin.disconnect();
    }
  });

  it('fetch publishes every record of its source, keyed by id', async () => {
    for (const [name, topic, source] of [
      ['Fetch-crm', 'customer_data', crm],
      ['Fetch-inventory', 'inventory_data', inventory],
    ] as const) {
      const before = await highWatermarks(topic);
      const fetch = await sandbox(name);
      const summary = expectSuccess(await fetch.invoke({}), fetch.logs);
      expect(summary).toMatchObject({ published: source.records.length, quarantined: 0 });
      const published = await messagesSince(topic, before);
      expect(published.map((message) => message.key).sort()).toEqual(
        source.records.map((record) => String(record.id)).sort(),
      );
    }
  });

  it('merge joins what fetch published and delivers each pair to Analytics once', async () => {
    const none = new Map<number, bigint>();
    const customers = await messagesSince('customer_data', none);
    const products = await messagesSince('inventory_data', none);
    const ours = (messages: TopicMessage[], source: SourceMock) =>
      messages.filter((message) => source.records.some((r) => String(r.id) === message.key));
    const event = mskEventOf(ours(customers, crm), () => 'customer_data');
    const productEvent = mskEventOf(ours(products, inventory), () => 'inventory_data');
    const merge = await sandbox('Merge');
    expectSuccess(await merge.invoke(event), merge.logs);
    expectSuccess(await merge.invoke(productEvent), merge.logs);
    const deliveredIds = analytics.received.map((entry) => entry.id);
    expect([...new Set(deliveredIds)].sort()).toEqual([...JOINED].sort());
    expect(deliveredIds).toHaveLength(JOINED.length);

    // The same batches again (a retried invocation): nothing is delivered twice.
    const again = expectSuccess(await merge.invoke(productEvent), merge.logs);
    expect(again).toMatchObject({ posted: 0 });
    expect(analytics.received).toHaveLength(JOINED.length);
  });

  it('merge dead-letters what Analytics refuses to SQS, and replay delivers it once Analytics is back', async () => {
    const changed = { ...sampleCustomers(1)[0], id: '1', name: 'Changed Name' };
    crm.upsert(changed);
    const before = await highWatermarks('customer_data');
    const fetch = await sandbox('Fetch-crm');
    expectSuccess(await fetch.invoke({}), fetch.logs);
    const fresh = (await messagesSince('customer_data', before)).filter((m) => m.key === '1');
    expect(fresh).toHaveLength(1);

    analytics.faults.down = true;
    const merge = await sandbox('Merge');
    const summary = expectSuccess(
      await merge.invoke(mskEventOf(fresh, () => 'customer_data')),
      merge.logs,
    );
    expect(summary).toMatchObject({ deadLettered: 1 });
    const letters = aws.messages.filter((message) => message.queueUrl.includes('DeadLetterQueue'));
    expect(letters).toHaveLength(1);

    analytics.faults.down = false;
    const replay = await sandbox('Replay');
    const answer = expectSuccess(
      await replay.invoke({
        Records: letters.map((letter) => ({
          messageId: letter.messageId,
          receiptHandle: letter.messageId,
          body: letter.body,
          attributes: {},
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:dead-letters',
          awsRegion: 'us-east-1',
        })),
      }),
      replay.logs,
    );
    expect(answer).toEqual({ batchItemFailures: [] });
    const delivered = analytics.received.filter((entry) => entry.id === '1');
    expect(delivered).toHaveLength(2);
    expect(JSON.stringify(delivered[1]?.body)).toContain('Changed Name');
  });

  it('refuses a token secret that still holds the placeholder, and loses nothing', async () => {
    const fn = fnNamed('Merge');
    const environment = environmentOf(fn);
    const arn = environment.ANALYTICS_TOKEN_SECRET_ARN ?? '';
    const restored = aws.secrets.get(arn) ?? '';
    aws.secrets.set(arn, JSON.stringify({ placeholder: 'replace me', token: 'generated' }));
    const changed = { ...sampleCustomers(3)[2], id: '3', name: 'Placeholder Window' };
    const event = mskEventOf(
      [
        {
          key: '3',
          value: JSON.stringify(changed),
          headers: {},
          partition: 0,
          offset: '900000',
          timestamp: Date.now(),
        },
      ],
      () => 'customer_data',
    );
    const before = analytics.received.length;
    const cold = await new LambdaSandbox(fn.assetDir, environment, fn.handler).start();
    try {
      const answer = await cold.invoke(event);
      expect(answer.ok).toBe(false);
      expect(answer.ok ? '' : answer.error.message).toMatch(
        /still holds the placeholder the stack created: put the credentials in it/,
      );
      expect(analytics.received.length).toBe(before);
    } finally {
      await cold.stop();
      aws.secrets.set(arn, restored);
    }
    // The batch failed as a whole, so the mapping retries it: with the token in place it goes through.
    const fresh = await new LambdaSandbox(fn.assetDir, environment, fn.handler).start();
    try {
      const retried = await fresh.invoke(event);
      expectSuccess(retried, fresh.logs);
      const delivered = analytics.received.filter((entry) => entry.id === '3');
      expect(delivered).toHaveLength(2);
      expect(JSON.stringify(delivered[1]?.body)).toContain('Placeholder Window');
    } finally {
      await fresh.stop();
    }
  });
});
