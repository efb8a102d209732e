import type { Kafka } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { buildMergeRuntime, type MergeRuntime } from '../../functions/merge/runtime.ts';
import { createRedriveHandler } from '../../functions/redrive/handler.ts';
import { createKafka } from '../../shared/adapters/kafka.ts';
import { ensureTopics } from '../../shared/adapters/kafka-topics.ts';
import { loadMergeConfig } from '../../shared/config.ts';
import { failedTopicOf } from '../../shared/domain/failed-batch.ts';
import { TOPICS } from '../../shared/sources/registry.ts';
import { AWS_FIXTURES, loadEvent } from '../events/fixtures.ts';
import { deliveryServices } from '../support/delivery-services.ts';
import { aCustomer, aProduct, testServices } from '../support/factories.ts';
import { produceRaw, readTopic } from '../support/kafka.ts';

/**
 * The re-drive (functions/redrive, what `npm run redrive` runs) fed what Lambda writes to a
 * Kafka on-failure destination: the example of "Record format for a Kafka destination" on
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
 * (test/events/msk-on-failure-kafka.json), on a real broker, Redis and Analytics mock.
 */
type Envelope = {
  KafkaBatchInfo: { batchSize: number };
  payload: { records: Record<string, Record<string, unknown>[]> };
};

const services = deliveryServices('awsredrive');
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
let runtime: MergeRuntime | undefined;

afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
});

/** The documentation's envelope, its batch now records of `topic` with these values. */
function envelopeOf(topic: string, values: { key: string; value: unknown; partition: number }[]) {
  const doc = loadEvent<Envelope>(AWS_FIXTURES.kafkaOnFailure);
  const [example] = Object.values(doc.payload.records).flat();
  doc.payload.records = {};
  values.forEach(({ key, value, partition }, index) => {
    const partitionKey = `${topic}-${partition}`;
    const list = doc.payload.records[partitionKey] ?? [];
    doc.payload.records[partitionKey] = list;
    list.push({
      ...example,
      topic,
      partition,
      offset: 100 + index,
      key: Buffer.from(key).toString('base64'),
      value: b64(value),
    });
  });
  doc.KafkaBatchInfo.batchSize = values.length;
  return JSON.stringify(doc);
}

async function setUp() {
  const prefix = services.newPrefix();
  const { brokers, redisUrl } = testServices();
  const kafka: Kafka = createKafka({
    brokers: brokers.split(','),
    clientId: 'awsredrive',
    auth: 'none',
  });
  await ensureTopics(
    kafka,
    [
      TOPICS.customer,
      TOPICS.inventory,
      failedTopicOf(TOPICS.customer),
      failedTopicOf(TOPICS.inventory),
      TOPICS.deadLetter,
      TOPICS.quarantine,
    ].map((topic) => ({ topic: prefix + topic, numPartitions: 2 })),
  );
  const config = loadMergeConfig({
    LOG_LEVEL: 'SILENT',
    METRICS: 'off',
    KAFKA_BROKERS: brokers,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    TOPIC_PREFIX: prefix,
    ANALYTICS_URL: services.mock.url,
  });
  runtime = buildMergeRuntime(config);
  const redrive = createRedriveHandler(config, runtime, kafka);
  return { prefix, kafka, redrive };
}

describe("re-driving Lambda's documented Kafka on-failure envelope", () => {
  it('delivers every record of every partition in it once, and a second re-drive or a repeated envelope delivers nothing more', async () => {
    const { prefix, kafka, redrive } = await setUp();
    const customers = ['1', '2'].map((id) => aCustomer(id));
    const products = ['1', '2'].map((id) => aProduct(id));
    const failedCustomers = prefix + failedTopicOf(TOPICS.customer);
    const failedProducts = prefix + failedTopicOf(TOPICS.inventory);
    // One envelope per failed batch; Lambda keys each with the original record's key.
    await produceRaw(kafka, failedCustomers, [
      {
        key: '1',
        value: envelopeOf(prefix + TOPICS.customer, [
          { key: '1', value: customers[0], partition: 0 },
          { key: '2', value: customers[1], partition: 1 },
        ]),
      },
    ]);
    await produceRaw(kafka, failedProducts, [
      {
        key: '1',
        value: envelopeOf(prefix + TOPICS.inventory, [
          { key: '1', value: products[0], partition: 0 },
        ]),
      },
      {
        key: '2',
        value: envelopeOf(prefix + TOPICS.inventory, [
          { key: '2', value: products[1], partition: 1 },
        ]),
      },
    ]);

    const first = await redrive({}, { getRemainingTimeInMillis: () => 120_000 });
    expect(first).toMatchObject({ records: 4, posted: 2, quarantined: 0, remaining: 0 });
    expect(
      services.mock.received
        .map((entry) => entry.body)
        .sort((a, b) => String((a as { id: string }).id).localeCompare((b as { id: string }).id)),
    ).toEqual(['1', '2'].map((id, i) => ({ id, customer: customers[i], inventory: products[i] })));

    const again = await redrive({}, { getRemainingTimeInMillis: () => 60_000 });
    expect(again.records).toBe(0);
    // Lambda may write a batch twice (at-least-once); the payloads are not sent again.
    await produceRaw(kafka, failedCustomers, [
      {
        key: '1',
        value: envelopeOf(prefix + TOPICS.customer, [
          { key: '1', value: customers[0], partition: 0 },
        ]),
      },
    ]);
    const repeated = await redrive({}, { getRemainingTimeInMillis: () => 60_000 });
    expect(repeated).toMatchObject({ records: 1, posted: 0, duplicates: 1 });
    expect(services.mock.received).toHaveLength(2);
  }, 120_000);

  it("quarantines the documentation's example itself by its record, not as an envelope: its value is the text 'test-value'", async () => {
    const { prefix, kafka, redrive } = await setUp();
    const doc = JSON.stringify(loadEvent(AWS_FIXTURES.kafkaOnFailure));
    await produceRaw(kafka, prefix + failedTopicOf(TOPICS.customer), [
      { key: 'test-key', value: doc },
    ]);
    const summary = await redrive({}, { getRemainingTimeInMillis: () => 60_000 });
    expect(summary).toMatchObject({ records: 1, posted: 0, quarantined: 1, remaining: 0 });
    const [quarantined] = await readTopic(kafka, prefix + TOPICS.quarantine, 1, 20_000);
    expect(quarantined?.value).toContain('test-value');
    expect(quarantined?.value).not.toContain('KafkaBatchInfo');
    expect(services.mock.received).toHaveLength(0);
  }, 120_000);
});
