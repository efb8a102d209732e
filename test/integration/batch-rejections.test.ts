import { describe, expect, it } from 'vitest';
import type { RejectForm } from '../../local/mocks/analytics-mock.ts';
import { HttpBatchAnalyticsSink } from '../../shared/adapters/batch-analytics-client.ts';
import { BatchedDelivery } from '../../shared/adapters/batch-delivery.ts';
import { DeliveryRecords } from '../../shared/adapters/delivery-records.ts';
import { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';
import type { BatchFormat } from '../../shared/domain/analytics-batch.ts';
import { type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import type { Log } from '../../shared/logger.ts';
import { BUILT_IN_JOIN, sourceForTopic } from '../../shared/sources/registry.ts';
import { mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';
import { deliveryServices } from '../support/delivery-services.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { MemoryJoinStore, MemorySinks, memoryLog } from '../support/in-memory.ts';

const TTL_SECONDS = 86_400;
const POLICY = { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20, timeoutMs: 2_000 };
const FORMAT: BatchFormat = {
  maxEvents: 10,
  maxBytes: 100_000,
  body: 'array',
  envelopeField: 'batch',
  eventIdField: 'eventId',
};

const services = deliveryServices('rejections');

const payloadOf = (id: string): MergedPayload => ({
  id,
  customer: aCustomer(id),
  inventory: aProduct(id),
});

/** Customers 1 to 4 joined with their products, in one MSK batch: four payloads, one request. */
const joinedBatch = () =>
  ['1', '2', '3', '4'].flatMap((id) => [
    aDecodedRecord('customer_data', aCustomer(id)),
    aDecodedRecord('inventory_data', aProduct(id)),
  ]);

/**
 * docs/design.md, "Answers read": a 2xx or 400 whose body names rejected events, in each list
 * form readVerdicts reads, rejects the events named and accepts the others; "only the rejected
 * payloads are dead-lettered, each with the reason". Counting a named event as accepted (it would
 * be marked COMPLETED and never reach the dead-letter queue) fails every row here.
 */
const FORMS: RejectForm[] = ['2xx-rejected', '2xx-errors', '2xx-failed_records', 'status-400'];

describe.each(FORMS)('a batch answer naming rejected events (%s)', (form) => {
  it('dead-letters exactly the named events, with the reason, and counts only the others delivered', async () => {
    const prefix = services.newPrefix();
    const sinks = new MemorySinks();
    services.mock.rejectIds = new Set(['2', '4']);
    services.mock.rejectForm = form;
    const cache = new IoRedisCacheClient(services.redis);
    const delivery = new BatchedDelivery({
      cache,
      analytics: new HttpBatchAnalyticsSink({
        url: services.mock.url,
        policy: POLICY,
        format: FORMAT,
      }),
      format: FORMAT,
      ttlSeconds: TTL_SECONDS,
      keyPrefix: prefix,
      concurrency: 2,
    });
    delivery.registerInvocation({ getRemainingTimeInMillis: () => 30_000 });
    const requests = services.mock.batchRequests;
    const summary = await mergeBatch(joinedBatch(), {
      joinStore: new MemoryJoinStore(),
      join: BUILT_IN_JOIN,
      delivery,
      deadLetter: sinks,
      quarantine: sinks,
      log: memoryLog() as unknown as Log,
      sourceForTopic,
      maxRecordBytes: 2_000,
    });
    // One request carried the four events; its answer named two of them.
    expect(services.mock.batchRequests - requests).toBe(1);
    expect(summary).toMatchObject({ merged: 4, posted: 2, deadLettered: 2 });
    const hash = (id: string) => payloadHash(payloadOf(id));
    expect(sinks.deadLetters.map((letter) => letter.hash).sort()).toEqual(
      [hash('2'), hash('4')].sort(),
    );
    for (const letter of sinks.deadLetters) {
      const id = (letter.payload as MergedPayload).id;
      expect(letter.reason).toContain(`id ${id} rejected by the mock`);
    }
    // The records: the accepted two COMPLETED, the rejected two released (a replay sends them).
    const records = new DeliveryRecords(cache, { keyPrefix: prefix, ttlSeconds: TTL_SECONDS });
    expect(
      await Promise.all(['1', '2', '3', '4'].map((id) => records.isDelivered(hash(id)))),
    ).toEqual([true, false, true, false]);
    expect(await services.redis.keys(`${prefix}delivered*`)).toHaveLength(2);
  });
});
