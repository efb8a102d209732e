import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DeployTarget } from '../../infra/config.ts';
import { LOCALSTACK_ENDPOINTS } from '../../infra/localstack.ts';
import { AnalyticsMock } from '../../local/mocks/analytics-mock.ts';
import { sampleCustomers, sampleProducts } from '../../local/mocks/dataset.ts';
import { SourceMock } from '../../local/mocks/servers.ts';
import { faultsDir, OwnRedis } from '../faults/network.ts';
import {
  expectSuccess,
  highWatermarks,
  kafkaEventOf,
  messagesSince,
} from '../support/artifact-kafka.ts';
import { AwsStandIn } from '../support/aws-stand-ins.ts';
import type { TopicMessage } from '../support/kafka.ts';
import { LambdaSandbox } from '../support/lambda-sandbox.ts';
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
 * the template gives it. Once per deploy target, one after the other on the shared broker.
 * Only what has no local twin is stood in for. aws: Refs and GetAtts become the local broker,
 * a password-protected redis-server, the mock APIs and a Secrets Manager / SQS stand-in, and
 * KAFKA_AUTH=iam becomes none (the local broker has no IAM listener). localstack: the compose
 * hosts the template names (kafka:9092, redis://valkey:6379, http://mocks:…) become the local
 * broker, a redis-server without AUTH and the mock APIs; KAFKA_AUTH=none is kept as it is.
 */

const RECORDS = 30;
/** The Analytics token secret a deployment names in context (it exists before the deploy). */
const ANALYTICS_SECRET_ARN =
  'arn:aws:secretsmanager:us-east-1:000000000000:secret:artifact-analytics-token-AbC123';
// sampleCustomers leaves out every 10th id and sampleProducts every 7th: these ids have both.
const JOINED = Array.from({ length: RECORDS }, (_, i) => String(i + 1)).filter(
  (id) => Number(id) % 10 !== 0 && Number(id) % 7 !== 0,
);
/** Ids one source holds and the other lacks: the sweeper delivers them with the other side null. */
const HALVES = Array.from({ length: RECORDS }, (_, i) => String(i + 1)).filter(
  (id) => !JOINED.includes(id),
);
/** The join the stack declares here: the default one, with a grace period short enough to wait. */
const GRACE_MS = 1_500;
const JOIN = JSON.stringify({ missing: `emit after ${GRACE_MS}ms` });
/**
 * Packages the AWS SDK's signer asks for only to sign with SigV4a (multi-region endpoints), inside
 * a try/catch that names the package to install. Nothing here signs with SigV4a, and the Lambda
 * runtime does not have them either.
 */
const OPTIONAL_SDK_MODULES = new Set(['@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a']);

const secretArn = (logicalId: string) =>
  `arn:aws:secretsmanager:us-east-1:000000000000:secret:${logicalId}`;
const refOf = (value: unknown) => (value as { Ref?: string }).Ref ?? '';

describe.each<{ target: DeployTarget; profile: 'standard' | 'small' }>([
  { target: 'aws', profile: 'standard' },
  { target: 'aws', profile: 'small' },
  { target: 'localstack', profile: 'standard' },
])('the bundles cdk deploy uploads ($target target, $profile profile)', ({ target, profile }) => {
  const redisPassword = target === 'aws' ? `artifact-${randomUUID()}` : undefined;
  let template: Template;
  let functions: DeployedFunction[];
  let aws: AwsStandIn;
  let crm: SourceMock;
  let inventory: SourceMock;
  let analytics: AnalyticsMock;
  let redis: OwnRedis;
  let kafka: Kafka;
  const sandboxes = new Map<string, LambdaSandbox>();

  /** Literal values of the localstack template, by what runs them here. */
  const composeStandIns = (): Record<string, string> => ({
    [LOCALSTACK_ENDPOINTS.kafkaBootstrapServers]: inject('kafkaBrokers'),
    [LOCALSTACK_ENDPOINTS.redisUrl]: redis.url,
    [LOCALSTACK_ENDPOINTS.sourceBaseUrls.crm ?? 'crm']: crm.url,
    [LOCALSTACK_ENDPOINTS.sourceBaseUrls.inventory ?? 'inventory']: inventory.url,
    [LOCALSTACK_ENDPOINTS.analyticsUrl]: analytics.url,
  });

  function environmentOf(fn: DeployedFunction): Record<string, string> {
    const standIns = composeStandIns();
    const overrides =
      target === 'aws'
        ? { KAFKA_AUTH: 'none' }
        : Object.fromEntries(
            Object.entries(fn.environment).flatMap(([name, value]) => {
              const local = typeof value === 'string' ? standIns[value] : undefined;
              return local === undefined ? [] : [[name, local]];
            }),
          );
    const resolved = resolveEnvironment(
      fn,
      (name, value) => {
        if (name === 'KAFKA_BROKERS') return inject('kafkaBrokers');
        if (name === 'REDIS_URL') return redis.url;
        if (name.endsWith('_SECRET_ARN')) return secretArn(refOf(value));
        if (name === 'DEAD_LETTER_QUEUE_URL') return `${aws.url}/000000000000/${refOf(value)}`;
        return undefined;
      },
      overrides,
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

  beforeAll(async () => {
    aws = await new AwsStandIn().start();
    crm = await new SourceMock('/customers', sampleCustomers(RECORDS)).start();
    inventory = await new SourceMock('/products', sampleProducts(RECORDS)).start();
    analytics = await new AnalyticsMock().start();
    redis = await new OwnRedis(
      faultsDir(`artifact-${target}-${randomUUID().slice(0, 8)}`),
      redisPassword ? { password: redisPassword } : {},
    ).start();
    kafka = new Kafka({ brokers: inject('kafkaBrokers').split(','), logLevel: logLevel.NOTHING });
    const synthesized = synthesize(
      target === 'aws'
        ? {
            'pipeline:stage': 'artifact',
            'pipeline:profile': profile,
            'pipeline:crmBaseUrl': crm.url,
            'pipeline:inventoryBaseUrl': inventory.url,
            'pipeline:analyticsUrl': analytics.url,
            'pipeline:analyticsTokenSecretArn': ANALYTICS_SECRET_ARN,
            'pipeline:join': JOIN,
          }
        : {
            'pipeline:stage': 'artifact',
            'pipeline:target': 'localstack',
            'pipeline:analyticsTokenSecretArn': ANALYTICS_SECRET_ARN,
            'pipeline:join': JOIN,
          },
      { bundle: true },
    );
    template = synthesized.template;
    functions = deployedFunctions(template, synthesized.outdir);
    aws.secrets.set(ANALYTICS_SECRET_ARN, JSON.stringify({ token: 'analytics-token' }));
    for (const logicalId of Object.keys(template.findResources('AWS::SecretsManager::Secret'))) {
      const value = logicalId.startsWith('CacheAuthToken')
        ? { password: redisPassword }
        : { token: `token-of-${logicalId}` };
      aws.secrets.set(secretArn(logicalId), JSON.stringify(value));
    }
  }, 180_000);

  afterAll(async () => {
    for (const running of sandboxes.values()) await running.stop();
    await Promise.all([aws?.close(), crm?.close(), inventory?.close(), analytics?.close()]);
    await redis?.stop();
  });

  it('are one ESM bundle per function of ours, for nodejs22.x', () => {
    expect(functions.map((fn) => fn.name).sort()).toEqual([
      'Fetch-crm',
      'Fetch-inventory',
      'Merge',
      'Redrive',
      'Replay',
      'Sweep-main',
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
        // A specifier starts like a package, a builtin or a path: a string literal that merely
        // ends in the word "from" (`message:"show takes no from",path:[…]`) is no import.
        ...code.matchAll(/\bfrom\s*["']([@\w./][^"']*)["']/g),
        ...code.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g),
        ...code.matchAll(/\brequire\s*\(\s*["']([^"']+)["']\s*\)/g),
      ].map((match) => match[1] ?? '');
      const outside = [...new Set(specifiers)].filter(
        (name) => !builtins.has(name) && !name.startsWith('.') && !OPTIONAL_SDK_MODULES.has(name),
      );
      expect({ fn: fn.name, outside }).toEqual({ fn: fn.name, outside: [] });
    }
  });

  it('name only endpoints that run here (the compose hosts, on the localstack target)', () => {
    for (const fn of functions) {
      const environment = environmentOf(fn);
      const compose = Object.entries(environment).filter(([, value]) =>
        /\b(kafka:9092|valkey|mocks:)/.test(value),
      );
      expect({ fn: fn.name, compose }).toEqual({ fn: fn.name, compose: [] });
      // The replay has no Kafka settings at all; the others reach the broker without IAM.
      const auth = environment.KAFKA_BROKERS === undefined ? 'none' : environment.KAFKA_AUTH;
      expect({ fn: fn.name, auth }).toEqual({ fn: fn.name, auth: 'none' });
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

  it('topic admin creates the declared topics', async () => {
    const topics = template.findResources('Custom::KafkaTopics');
    const properties = Object.values(topics)[0]?.Properties as Record<string, unknown>;
    // MSK Serverless takes -1 only; the small profile's two brokers hold a copy each.
    expect(properties.replicationFactor).toBe(
      target === 'localstack' ? 1 : profile === 'small' ? 2 : -1,
    );
    // CloudFormation hands custom resources every scalar as a string.
    const asCloudFormationSends = JSON.parse(
      JSON.stringify(properties, (_key, value) =>
        typeof value === 'number' ? String(value) : value,
      ),
    ) as Record<string, unknown>;
    // The test broker is one node: the small profile's replication 2 is checked above, and
    // created here as the one copy this broker can hold.
    if (profile === 'small') asCloudFormationSends.replicationFactor = '1';
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
      const before = await highWatermarks(kafka, topic);
      const fetch = await sandbox(name);
      const summary = expectSuccess(await fetch.invoke({}), fetch.logs);
      expect(summary).toMatchObject({ published: source.records.length, quarantined: 0 });
      const published = await messagesSince(kafka, topic, before);
      expect(published.map((message) => message.key).sort()).toEqual(
        source.records.map((record) => String(record.id)).sort(),
      );
    }
  });

  it('merge joins what fetch published and delivers each pair to Analytics once', async () => {
    const none = new Map<number, bigint>();
    // The topics may hold what an earlier target's run published too; the ids are the same.
    const ours = (messages: TopicMessage[], source: SourceMock) =>
      messages.filter((message) => source.records.some((r) => String(r.id) === message.key));
    const customers = ours(await messagesSince(kafka, 'customer_data', none), crm);
    const products = ours(await messagesSince(kafka, 'inventory_data', none), inventory);
    const merge = await sandbox('Merge');
    expectSuccess(await merge.invoke(kafkaEventOf(customers, 'customer_data')), merge.logs);
    const productEvent = kafkaEventOf(products, 'inventory_data');
    expectSuccess(await merge.invoke(productEvent), merge.logs);
    const deliveredIds = analytics.received.map((entry) => entry.id);
    expect([...new Set(deliveredIds)].sort()).toEqual([...JOINED].sort());
    expect(deliveredIds).toHaveLength(JOINED.length);

    // The same batches again (a retried invocation): nothing is delivered twice, and the
    // answer is the partial batch response alone, with no record to retry.
    const again = expectSuccess(await merge.invoke(productEvent), merge.logs);
    expect(again).toEqual({ batchItemFailures: [] });
    expect(analytics.received).toHaveLength(JOINED.length);
  });

  it('sweep delivers the halves whose grace period passed with the missing side null, once, and reports them', async () => {
    // The merge test above joined what both sources hold; the halves have waited since then.
    await new Promise((resolveWait) => setTimeout(resolveWait, GRACE_MS + 200));
    const sweep = await sandbox('Sweep-main');
    const before = analytics.received.length;
    const summary = expectSuccess(await sweep.invoke({}), sweep.logs);
    expect(summary).toMatchObject({
      join: 'main',
      policy: 'emit',
      due: HALVES.length,
      emitted: HALVES.length,
      pending: HALVES.length,
    });
    const partials = analytics.received.slice(before);
    expect(partials.map((entry) => entry.id).sort()).toEqual([...HALVES].sort());
    for (const { id, body } of partials) {
      // sampleCustomers leaves out every 10th id: those have only the product.
      const missing = Number(id) % 10 === 0 ? 'customer' : 'inventory';
      expect({ id, side: (body as Record<string, unknown>)[missing] }).toEqual({
        id,
        side: null,
      });
    }
    // The metrics of the join, as the alarm reads them (EMF on stdout).
    const emf = sweep
      .jsonLogs()
      .filter((line) => line._aws !== undefined && line.PendingIds !== undefined);
    expect(emf.at(-1)).toMatchObject({
      service: 'sweep',
      join: 'main',
      PendingIds: HALVES.length,
    });
    expect(Number(emf.at(-1)?.OldestPendingAge)).toBeGreaterThan(GRACE_MS / 1000);

    // The next scheduled sweep: nothing is due again, nothing delivered twice.
    const again = expectSuccess(await sweep.invoke({}), sweep.logs);
    expect(again).toMatchObject({ due: 0, emitted: 0, pending: HALVES.length });
    expect(analytics.received.length).toBe(before + HALVES.length);

    // What npm run pending -- --aws asks for.
    const listing = expectSuccess(await sweep.invoke({ list: 3 }), sweep.logs);
    expect(listing).toMatchObject({ join: 'main', stats: { pending: HALVES.length } });
    expect((listing as { pending: unknown[] }).pending).toHaveLength(3);
  });

  it('merge dead-letters what Analytics refuses to SQS, and replay delivers it once Analytics is back', async () => {
    const changed = { ...sampleCustomers(1)[0], id: '1', name: `Changed Name ${target}` };
    crm.upsert(changed);
    const before = await highWatermarks(kafka, 'customer_data');
    const fetch = await sandbox('Fetch-crm');
    expectSuccess(await fetch.invoke({}), fetch.logs);
    const fresh = (await messagesSince(kafka, 'customer_data', before)).filter(
      (m) => m.key === '1',
    );
    expect(fresh).toHaveLength(1);

    analytics.faults.down = true;
    const merge = await sandbox('Merge');
    const summary = expectSuccess(
      await merge.invoke(kafkaEventOf(fresh, 'customer_data')),
      merge.logs,
    );
    // Refused is final, not held: nothing for the mapping to retry; the letter is on SQS.
    expect(summary).toEqual({ batchItemFailures: [] });
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
    expect(JSON.stringify(delivered[1]?.body)).toContain(`Changed Name ${target}`);
  });

  it('stops a batch while the token secret holds no token, and delivers it on the retry once it does', async () => {
    const fn = fnNamed('Merge');
    const environment = environmentOf(fn);
    const arn = environment.ANALYTICS_TOKEN_SECRET_ARN ?? '';
    expect(arn).toBe(ANALYTICS_SECRET_ARN);
    const restored = aws.secrets.get(arn) ?? '';
    aws.secrets.set(arn, JSON.stringify({ username: 'not what Analytics takes' }));
    const changed = { ...sampleCustomers(3)[2], id: '3', name: `Token Window ${target}` };
    const event = kafkaEventOf(
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
      'customer_data',
    );
    const before = analytics.received.length;
    const cold = await new LambdaSandbox(fn.assetDir, environment, fn.handler).start();
    try {
      const answer = await cold.invoke(event);
      expect(answer.ok).toBe(false);
      expect(answer.ok ? '' : answer.error.message).toMatch(
        new RegExp(`secret ${ANALYTICS_SECRET_ARN} has no string field "token"`),
      );
      expect(analytics.received.length).toBe(before);
    } finally {
      await cold.stop();
      aws.secrets.set(arn, restored);
    }
    // The batch failed as a whole, so the mapping retries it: with the token there it goes through.
    const fresh = await new LambdaSandbox(fn.assetDir, environment, fn.handler).start();
    try {
      expectSuccess(await fresh.invoke(event), fresh.logs);
      const delivered = analytics.received.filter((entry) => entry.id === '3');
      expect(delivered).toHaveLength(2);
      expect(JSON.stringify(delivered[1]?.body)).toContain(`Token Window ${target}`);
    } finally {
      await fresh.stop();
    }
  });
});
