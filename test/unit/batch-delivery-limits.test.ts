import { describe, expect, it } from 'vitest';
import { BatchedDelivery } from '../../shared/adapters/batch-delivery.ts';
import { buildMergedPayload, type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import type { BatchAnalyticsSink } from '../../shared/ports.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { MemoryCache } from '../support/in-memory.ts';

const items = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => {
    const id = String(from + i);
    const payload = buildMergedPayload(id, {
      customer: aCustomer(id),
      inventory: aProduct(id),
    }) as MergedPayload;
    return { payload, hash: payloadHash(payload) };
  });

describe('BatchedDelivery, its request limit', () => {
  it('keeps ANALYTICS_CONCURRENCY across the calls in flight, not per call', async () => {
    let inFlight = 0;
    let most = 0;
    let requests = 0;
    const sink: BatchAnalyticsSink = {
      postBatch: async (events) => {
        requests++;
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        return { verdicts: events.map(() => ({ accepted: true as const })), attempts: 1 };
      },
    };
    const delivery = new BatchedDelivery({
      cache: new MemoryCache(),
      analytics: sink,
      format: {
        maxEvents: 2,
        maxBytes: 100_000,
        body: 'array',
        envelopeField: 'batch',
        eventIdField: 'eventId',
      },
      ttlSeconds: 3_600,
      keyPrefix: 'limits:',
      concurrency: 2,
    });
    // Two parts of a batch at once, each of four requests.
    const outcomes = await Promise.all([
      delivery.deliverMany(items(1, 8)),
      delivery.deliverMany(items(9, 8)),
    ]);
    expect(outcomes.flat()).toEqual(Array.from({ length: 16 }, () => 'posted'));
    expect(requests).toBe(8);
    expect(most).toBe(2);
  });
});
