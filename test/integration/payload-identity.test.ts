import { describe, expect, it } from 'vitest';
import { HttpAnalyticsSink } from '../../shared/adapters/analytics-client.ts';
import { HttpBatchAnalyticsSink } from '../../shared/adapters/batch-analytics-client.ts';
import { BatchedDelivery } from '../../shared/adapters/batch-delivery.ts';
import { DeliveryRecords } from '../../shared/adapters/delivery-records.ts';
import { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import type { BatchFormat } from '../../shared/domain/analytics-batch.ts';
import { type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import { AnalyticsDeliveryError } from '../../shared/errors.ts';
import type { Log } from '../../shared/logger.ts';
import type { OnceDelivery } from '../../shared/ports.ts';
import { BUILT_IN_JOIN, sourceForTopic } from '../../shared/sources/registry.ts';
import { type MergeDeps, mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';
import { deliveryServices } from '../support/delivery-services.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { MemoryJoinStore, MemorySinks, memoryLog } from '../support/in-memory.ts';

const TTL_SECONDS = 3_600;
const POLICY = { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20, timeoutMs: 2_000 };
const FORMAT: BatchFormat = {
  maxEvents: 10,
  maxBytes: 100_000,
  body: 'array',
  envelopeField: 'batch',
  eventIdField: 'eventId',
};

const services = deliveryServices('identity');

const payloadOf = (id: string): MergedPayload => ({
  id,
  customer: aCustomer(id),
  inventory: aProduct(id),
});

/** Customer 1 and 2 joined with their products: payload 1 is accepted, payload 2 refused. */
function joinedBatch() {
  return ['1', '2'].flatMap((id) => [
    aDecodedRecord('customer_data', aCustomer(id)),
    aDecodedRecord('inventory_data', aProduct(id)),
  ]);
}

function singleMode(prefix: string): OnceDelivery {
  const http = new HttpAnalyticsSink({ url: services.mock.url, policy: POLICY });
  const delivery = new IdempotentDelivery({
    cache: new IoRedisCacheClient(services.redis),
    analytics: {
      post: (payload, hash) =>
        payload.id === '2'
          ? Promise.reject(new AnalyticsDeliveryError(400, 1, 'HTTP 400 refused by the test'))
          : http.post(payload, hash),
    },
    ttlSeconds: TTL_SECONDS,
    keyPrefix: prefix,
    concurrency: 2,
  });
  delivery.registerInvocation({ getRemainingTimeInMillis: () => 30_000 });
  return delivery;
}

function batchMode(prefix: string): OnceDelivery {
  services.mock.rejectIds = new Set(['2']);
  const delivery = new BatchedDelivery({
    cache: new IoRedisCacheClient(services.redis),
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
  return delivery;
}

describe.each([
  ['single', singleMode],
  ['batch', batchMode],
] as const)('one identity per payload (%s mode)', (_mode, deliveryFor) => {
  it('is the Redis record, the Idempotency-Key or event id, the log hash and the dead letter hash', async () => {
    const prefix = services.newPrefix();
    const log = memoryLog();
    const sinks = new MemorySinks();
    const deps: MergeDeps = {
      joinStore: new MemoryJoinStore(),
      join: BUILT_IN_JOIN,
      delivery: deliveryFor(prefix),
      deadLetter: sinks,
      quarantine: sinks,
      log: log as unknown as Log,
      sourceForTopic,
      maxRecordBytes: 2_000,
    };
    const summary = await mergeBatch(joinedBatch(), deps);
    expect(summary).toMatchObject({ merged: 2, posted: 1, deadLettered: 1 });
    const delivered = payloadHash(payloadOf('1'));
    const refused = payloadHash(payloadOf('2'));
    const loggedHash = (message: string) =>
      log.lines.filter((line) => line.message === message).map((line) => line.attributes.hash);

    // What the sink was given: the Idempotency-Key header (single) or the event's id (batch).
    expect(services.mock.received.map((entry) => entry.key)).toEqual([delivered]);
    expect(loggedHash('payload delivered')).toEqual([delivered]);
    expect(sinks.deadLetters.map((letter) => letter.hash)).toEqual([refused]);
    expect(loggedHash('payload dead-lettered')).toEqual([refused]);

    // The Redis record: the one key under the prefix, reached from the identity alone.
    const records = new DeliveryRecords(new IoRedisCacheClient(services.redis), {
      keyPrefix: prefix,
      ttlSeconds: TTL_SECONDS,
    });
    const record = await records.getRecord(delivered);
    expect(await services.redis.keys(`${prefix}delivered*`)).toEqual([record.idempotencyKey]);
    expect(record.getResponse()).toMatchObject({ hash: delivered });
    expect(await records.isDelivered(delivered)).toBe(true);
    expect(await records.isDelivered(refused)).toBe(false);
  });
});

it('gives a payload one identity whatever the order of its keys', () => {
  const payload = payloadOf('7');
  const reordered = { inventory: aProduct('7'), customer: aCustomer('7'), id: '7' };
  expect(payloadHash(reordered)).toBe(payloadHash(payload));
  expect(payloadHash(payload)).toMatch(/^[0-9a-f]{64}$/);
});
