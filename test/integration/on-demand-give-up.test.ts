import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { rawRecordsOf } from '../../functions/merge/raw-records.ts';
import { EsmEmulator, waitForDrain } from '../../local/esm-emulator.ts';
import { RedisOrMemoryAttemptCounter } from '../../shared/adapters/attempt-counter.ts';
import { createKafka, KafkaPublisher } from '../../shared/adapters/kafka.ts';
import { ensureTopics } from '../../shared/adapters/kafka-topics.ts';
import { decodeFailedMessage, FAILED_HEADERS } from '../../shared/domain/failed-batch.ts';
import { batchIdentityOf, settleOnDemand } from '../../shared/use-cases/settle-on-demand.ts';
import { testServices, uniquePrefix } from '../support/factories.ts';
import { produceRaw, readTopic } from '../support/kafka.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup) await step();
  cleanup = [];
});

describe('an on-demand mapping: the merge gives a failing batch up itself', () => {
  it('counts attempts in Redis, writes the records to failed_<topic> after the budget, and the mapping moves on', async () => {
    const { brokers, redisUrl } = testServices();
    const kafka = createKafka({ brokers: brokers.split(','), clientId: 'on-demand', auth: 'none' });
    const prefix = uniquePrefix('ondemand');
    const topic = `${prefix}customer_data`;
    const failedTopic = `${prefix}failed_customer_data`;
    await ensureTopics(kafka, [
      { topic, numPartitions: 1 },
      { topic: failedTopic, numPartitions: 1 },
    ]);
    const redis = new Redis(redisUrl);
    const publisher = new KafkaPublisher(kafka, brokers.split(','));
    cleanup.push(async () => {
      await publisher.disconnect();
      redis.disconnect();
    });
    const deps = {
      attempts: new RedisOrMemoryAttemptCounter(() => redis, { prefix, ttlSeconds: 600 }),
      publisher,
      retryAttempts: 2,
      failedTopicFor: (source: string) => `${prefix}failed_${source.slice(prefix.length)}`,
    };
    const poison = [1, 2, 3].map((n) => ({
      key: `p${n}`,
      value: JSON.stringify({ id: `p${n}` }),
      headers: { 'correlation-id': 'c-1' },
    }));
    await produceRaw(kafka, topic, poison);

    const seen: string[][] = [];
    const redisCounts: (string | null)[] = [];
    const esm = new EsmEmulator({
      kafka,
      topic,
      groupId: `${prefix}merge`,
      batchSize: 10,
      bootstrapServers: brokers,
      mode: 'on-demand',
      // Ignored in on-demand mode: the mapping itself never gives up.
      retryAttempts: 0,
      failedTopic,
      invoke: async (event) => {
        const records = rawRecordsOf(event);
        seen.push(records.map((record) => record.key ?? ''));
        const poisoned = records.some((record) => record.key?.startsWith('p'));
        try {
          const outcome = await settleOnDemand(
            records,
            async () => ({ retry: poisoned ? records : [] }),
            deps,
          );
          return { outcome, batchItemFailures: [] };
        } finally {
          redisCounts.push(await redis.get(`${prefix}attempts:${batchIdentityOf(records)}`));
        }
      },
    });
    cleanup.push(() => esm.stop());
    await esm.start();
    await waitForDrain(kafka, [{ topic, esm }], 60_000);
    await produceRaw(kafka, topic, [{ key: 'ok1', value: JSON.stringify({ id: 'ok1' }) }]);
    await waitForDrain(kafka, [{ topic, esm }], 60_000);

    // First try and two retries (the last one gives up and answers success), then the next record.
    expect(seen.filter((keys) => keys.includes('p1'))).toHaveLength(3);
    expect(seen.at(-1)).toEqual(['ok1']);
    expect(esm.failures).toBe(2);
    expect(esm.gaveUp).toEqual({ batches: 0, records: 0 });
    expect(esm.committed.get(0)).toBe(4n);
    // The count lived in Redis and is forgotten once the batch is settled.
    expect(await redis.get(`${prefix}attempts:${topic}-0@0`)).toBeNull();

    const failed = await readTopic(kafka, failedTopic, 3, 20_000);
    expect(failed.map((message) => message.key)).toEqual(['p1', 'p2', 'p3']);
    expect(failed[0]?.headers[FAILED_HEADERS.attempts]).toBe('3');
    const back = failed.map((message) => decodeFailedMessage(message, topic));
    expect(back.map((record) => [record.topic, record.key, record.value])).toEqual(
      poison.map((message) => [topic, message.key, message.value]),
    );
    // Each failed attempt was counted in Redis: 1, 2, then forgotten when given up.
    expect(redisCounts.slice(0, 3)).toEqual(['1', '2', null]);
  }, 120_000);
});
