import { afterEach, describe, expect, it } from 'vitest';
import { EsmEmulator, waitForDrain } from '../../local/esm-emulator.ts';
import { createKafka } from '../../shared/adapters/kafka.ts';
import { ensureTopics } from '../../shared/adapters/kafka-topics.ts';
import { decodeFailedMessage, FAILED_HEADERS } from '../../shared/domain/failed-batch.ts';
import { testServices, uniquePrefix } from '../support/factories.ts';
import { produceRaw, readTopic } from '../support/kafka.ts';

let esm: EsmEmulator | undefined;

afterEach(async () => {
  await esm?.stop();
  esm = undefined;
});

describe('the emulated event source mapping, on a batch that keeps failing', () => {
  it('tries it 1 + retryAttempts times, hands its records to the failed topic, and moves on', async () => {
    const { brokers } = testServices();
    const kafka = createKafka({ brokers: brokers.split(','), clientId: 'give-up', auth: 'none' });
    const prefix = uniquePrefix('giveup');
    const topic = `${prefix}customer_data`;
    const failedTopic = `${prefix}failed_customer_data`;
    await ensureTopics(kafka, [
      { topic, numPartitions: 1 },
      { topic: failedTopic, numPartitions: 1 },
    ]);
    const poison = [1, 2, 3].map((n) => ({
      key: `p${n}`,
      value: JSON.stringify({ id: `p${n}`, name: `Poison ${n}` }),
      headers: { 'correlation-id': 'c-1' },
    }));
    await produceRaw(kafka, topic, poison);

    const seen: string[][] = [];
    let gaveUp = 0;
    esm = new EsmEmulator({
      kafka,
      topic,
      groupId: `${prefix}merge`,
      batchSize: 10,
      bootstrapServers: brokers,
      retryAttempts: 2,
      failedTopic,
      onGiveUp: (_error, records) => {
        gaveUp += records;
      },
      invoke: async (event) => {
        const keys = Object.values(event.records)
          .flat()
          .map((record) => Buffer.from(record.key ?? '', 'base64').toString('utf8'));
        seen.push(keys);
        if (keys.some((key) => key.startsWith('p'))) throw new Error('Redis unreachable');
        return { ok: true };
      },
    });
    await esm.start();
    await waitForDrain(kafka, [{ topic, esm }], 60_000);
    // A later record is processed once the poison batch is given up.
    await produceRaw(kafka, topic, [{ key: 'ok1', value: JSON.stringify({ id: 'ok1' }) }]);
    await waitForDrain(kafka, [{ topic, esm }], 60_000);

    const poisonTries = seen.filter((keys) => keys.includes('p1'));
    expect(poisonTries).toHaveLength(3);
    expect(seen.at(-1)).toEqual(['ok1']);
    expect(gaveUp).toBe(3);
    expect(esm.gaveUp).toEqual({ batches: 1, records: 3 });
    expect(esm.metrics).toEqual({
      OnFailureDestinationDeliveredEventCount: 3,
      DroppedEventCount: 0,
      OnFailureDestinationDeliveryErrorCount: 0,
    });
    expect(esm.committed.get(0)).toBe(4n);

    const failed = await readTopic(kafka, failedTopic, 3, 20_000);
    expect(failed.map((message) => message.key)).toEqual(['p1', 'p2', 'p3']);
    expect(failed[0]?.headers[FAILED_HEADERS.offset]).toBe('0');
    expect(failed[0]?.headers[FAILED_HEADERS.attempts]).toBe('3');
    expect(failed[0]?.headers[FAILED_HEADERS.reason]).toBe('Redis unreachable');
    const back = failed.map((message) => decodeFailedMessage(message, topic));
    expect(back.map((record) => [record.topic, record.key, record.value])).toEqual(
      poison.map((message) => [topic, message.key, message.value]),
    );
    expect(back[0]?.headers).toEqual({ 'correlation-id': 'c-1' });
  }, 120_000);

  it('drops a batch the failed topic does not take, as Lambda does, and counts it as DroppedEventCount', async () => {
    // https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics:
    // a failed write to the on-failure destination emits DroppedEventCount for its records,
    // and no OnFailureDestinationDeliveredEventCount.
    const { brokers } = testServices();
    const kafka = createKafka({ brokers: brokers.split(','), clientId: 'drop', auth: 'none' });
    const prefix = uniquePrefix('drop');
    const topic = `${prefix}customer_data`;
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
    await produceRaw(kafka, topic, [
      { key: 'p1', value: '{"id":"p1"}' },
      { key: 'p2', value: '{"id":"p2"}' },
    ]);
    const dropped: number[] = [];
    esm = new EsmEmulator({
      kafka,
      topic,
      groupId: `${prefix}merge`,
      batchSize: 10,
      bootstrapServers: brokers,
      retryAttempts: 1,
      // Never created (the broker does not create topics on use): every write to it fails.
      failedTopic: `${prefix}failed_customer_data`,
      onDrop: (_error, records) => dropped.push(records),
      invoke: async () => {
        throw new Error('Redis unreachable');
      },
    });
    await esm.start();
    await waitForDrain(kafka, [{ topic, esm }], 60_000);
    expect(dropped).toEqual([2]);
    expect(esm.metrics).toEqual({
      OnFailureDestinationDeliveredEventCount: 0,
      DroppedEventCount: 2,
      OnFailureDestinationDeliveryErrorCount: 1,
    });
    expect(esm.gaveUp).toEqual({ batches: 0, records: 0 });
    expect(esm.committed.get(0)).toBe(2n);
  }, 120_000);
});
