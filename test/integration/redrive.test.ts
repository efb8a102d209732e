import type { Kafka } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { redriveFailedBatches } from '../../functions/redrive/failed-topics.ts';
import { createKafka } from '../../shared/adapters/kafka.ts';
import { ensureTopics } from '../../shared/adapters/kafka-topics.ts';
import { failedTopicOf } from '../../shared/domain/failed-batch.ts';
import type { MergedPayload } from '../../shared/domain/merge.ts';
import { DeliveryInProgressError } from '../../shared/errors.ts';
import type { BatchOutcome, DeliveryItem } from '../../shared/ports.ts';
import { sourceForTopic } from '../../shared/sources/registry.ts';
import { mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';
import { aCustomer, aProduct, testServices, uniquePrefix } from '../support/factories.ts';
import { produceRaw } from '../support/kafka.ts';
import { memoryMergeDeps } from '../support/merge-deps.ts';

/*
 * docs/design.md, "Re-drive": a chunk's offsets are committed only after its merge returned; a
 * chunk that fails stops its partition there, and run again, the re-drive starts with that
 * chunk. Here the re-drive reads failed_customer_data on a real broker, and its delivery fails
 * inside the second chunk, after the chunk was read and one of its payloads delivered. The second
 * run must deliver every record of that chunk and of the chunks after it; a re-drive that
 * commits a chunk's offset before the chunk is delivered skips them for good.
 */

let kafka: Kafka;

beforeAll(() => {
  kafka = createKafka({
    brokers: testServices().brokers.split(','),
    clientId: 'redrive-test',
    auth: 'none',
  });
});

/**
 * Waits until the broker has a coordinator for the group: on a broker just started, the offsets
 * topic is still being created and the first offset fetch is refused (NOT_COORDINATOR).
 */
async function coordinatorReady(groupId: string, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let tries = 1; ; tries++) {
      try {
        await admin.fetchOffsets({ groupId, topics: [topic] });
        return;
      } catch (error) {
        if (tries >= 40) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

const IDS = ['1', '2', '3', '4', '5', '6'];

describe('the re-drive of failed_<topic>', () => {
  it('delivers every record of a chunk that failed midway when run again, and never one twice', async () => {
    const prefix = uniquePrefix('redrive');
    const sourceTopic = `${prefix}customer_data`;
    const failedTopic = prefix + failedTopicOf('customer_data');
    await ensureTopics(kafka, [{ topic: failedTopic, numPartitions: 1 }]);
    await coordinatorReady(`${prefix}redrive`, failedTopic);
    // The customers' records as the mapping gave them up; their products were merged live.
    await produceRaw(
      kafka,
      failedTopic,
      IDS.map((id) => ({ key: id, value: JSON.stringify(aCustomer(id)) })),
    );
    const { deps, analytics } = memoryMergeDeps({
      sourceForTopic: (topic) => sourceForTopic(topic.replace(prefix, '')),
    });
    await mergeBatch(
      IDS.map((id) => aDecodedRecord('inventory_data', aProduct(id))),
      deps,
    );
    // Redis is lost when payload 4 is delivered, the second payload of the second chunk.
    const delivery = deps.delivery;
    let lost = true;
    const failing = {
      ...deps,
      delivery: {
        deliver: (payload: MergedPayload, hash: string) => delivery.deliver(payload, hash),
        deliverMany: async (items: DeliveryItem[]) => {
          const at = items.findIndex((item) => item.payload.id === '4');
          if (!lost || at < 0) return delivery.deliverMany(items);
          // The payloads before it go out; then what ioredis throws once its connection is gone.
          await delivery.deliverMany(items.slice(0, at));
          throw new Error('Connection is closed.');
        },
      },
    };
    const options = {
      kafka,
      sourceTopics: [sourceTopic],
      topicPrefix: prefix,
      groupId: `${prefix}redrive`,
      chunkSize: 2,
      timeoutMs: 60_000,
    };

    const first = await redriveFailedBatches({ ...options, deps: failing });
    expect(first).toMatchObject({ records: 2, posted: 2, remaining: 4 });
    expect(analytics.received.map((payload) => payload.id).sort()).toEqual(['1', '2', '3']);

    lost = false;
    const second = await redriveFailedBatches({ ...options, deps });
    // It starts with the chunk that failed: payload 3 was delivered before the failure.
    expect(second).toMatchObject({ records: 4, posted: 3, duplicates: 1, remaining: 0 });
    expect(analytics.received.map((payload) => payload.id).sort()).toEqual(IDS);

    const third = await redriveFailedBatches({ ...options, deps });
    expect(third).toMatchObject({ records: 0, remaining: 0 });
  });

  it('leaves on the failed topic a chunk whose payload another invocation holds, and delivers it next time', async () => {
    const prefix = uniquePrefix('redrive');
    const failedTopic = prefix + failedTopicOf('customer_data');
    await ensureTopics(kafka, [{ topic: failedTopic, numPartitions: 1 }]);
    await coordinatorReady(`${prefix}redrive`, failedTopic);
    await produceRaw(
      kafka,
      failedTopic,
      IDS.map((id) => ({ key: id, value: JSON.stringify(aCustomer(id)) })),
    );
    const { deps, analytics } = memoryMergeDeps({
      sourceForTopic: (topic) => sourceForTopic(topic.replace(prefix, '')),
    });
    await mergeBatch(
      IDS.map((id) => aDecodedRecord('inventory_data', aProduct(id))),
      deps,
    );
    // Payload 4 is held in progress elsewhere through the first run (no partial response here).
    const delivery = deps.delivery;
    let held = true;
    const holding = {
      ...deps,
      delivery: {
        deliver: (payload: MergedPayload, hash: string) =>
          held && payload.id === '4'
            ? Promise.reject(new DeliveryInProgressError(hash))
            : delivery.deliver(payload, hash),
        deliverMany: async (items: DeliveryItem[]): Promise<BatchOutcome[]> => {
          if (!held) return delivery.deliverMany(items);
          const others = await delivery.deliverMany(
            items.filter((item) => item.payload.id !== '4'),
          );
          return items.map((item) =>
            item.payload.id === '4' ? 'held' : (others.shift() ?? 'held'),
          );
        },
      },
    };
    const options = {
      kafka,
      sourceTopics: [`${prefix}customer_data`],
      topicPrefix: prefix,
      groupId: `${prefix}redrive`,
      chunkSize: 2,
      timeoutMs: 60_000,
    };
    const first = await redriveFailedBatches({ ...options, deps: holding });
    expect(first).toMatchObject({ records: 2, remaining: 4 });
    held = false;
    const second = await redriveFailedBatches({ ...options, deps });
    expect(second).toMatchObject({ records: 4, posted: 3, duplicates: 1, remaining: 0 });
    expect(analytics.received.map((payload) => payload.id).sort()).toEqual(IDS);
  });
});
