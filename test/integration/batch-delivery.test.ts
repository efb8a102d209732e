import { describe, expect, it } from 'vitest';
import { HttpBatchAnalyticsSink } from '../../shared/adapters/batch-analytics-client.ts';
import { BatchedDelivery } from '../../shared/adapters/batch-delivery.ts';
import { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import type { BatchFormat } from '../../shared/domain/analytics-batch.ts';
import { type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import type { AnalyticsSink, BatchRequestEvent } from '../../shared/ports.ts';
import { deliveryServices } from '../support/delivery-services.ts';
import { aCustomer, aProduct } from '../support/factories.ts';

const TTL_SECONDS = 3_600;
const POLICY = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 50, timeoutMs: 2_000 };
const FORMAT: BatchFormat = {
  maxEvents: 4,
  maxBytes: 100_000,
  body: 'array',
  envelopeField: 'batch',
  eventIdField: 'eventId',
};

const services = deliveryServices('batch');

const aPayload = (id: string): MergedPayload => ({
  id,
  customer: aCustomer(id),
  inventory: aProduct(id),
});
const items = (ids: string[]) =>
  ids.map((id) => {
    const payload = aPayload(id);
    return { payload, hash: payloadHash(payload) };
  });

function batchDelivery(
  prefix: string,
  format: BatchFormat = FORMAT,
  cache = new IoRedisCacheClient(services.redis),
  /** Runs before each request reaches the Analytics mock (which it then reaches). */
  beforePost?: (events: BatchRequestEvent[]) => Promise<void>,
) {
  const sink = new HttpBatchAnalyticsSink({ url: services.mock.url, policy: POLICY, format });
  return new BatchedDelivery({
    cache,
    analytics: {
      postBatch: async (events) => {
        await beforePost?.(events);
        return sink.postBatch(events);
      },
    },
    format,
    ttlSeconds: TTL_SECONDS,
    keyPrefix: prefix,
    concurrency: 2,
    inProgressWaitMs: 200,
  });
}

const newPrefix = () => services.newPrefix();

const receivedIds = (from: number) => services.mock.received.slice(from).map((entry) => entry.id);

describe('BatchedDelivery on real Redis and the Analytics mock', () => {
  it('posts ten payloads in three requests of at most four, each event with its hash, and never again', async () => {
    const prefix = newPrefix();
    const before = services.mock.received.length;
    const requests = services.mock.batchRequests;
    const batch = items(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(await batchDelivery(prefix).deliverMany(batch)).toEqual(batch.map(() => 'posted'));
    expect(services.mock.batchRequests - requests).toBe(3);
    expect(receivedIds(before)).toEqual(batch.map(({ payload }) => payload.id));
    expect(services.mock.received.slice(before).map((entry) => entry.key)).toEqual(
      batch.map(({ hash }) => hash),
    );

    const again = await batchDelivery(prefix).deliverMany(items(['1', '2', '11']));
    expect(again).toEqual(['duplicate', 'duplicate', 'posted']);
    expect(receivedIds(before)).toHaveLength(11);
  });

  it('shares its records with single mode: each mode skips what the other delivered', async () => {
    const prefix = newPrefix();
    const posted: string[] = [];
    const single: AnalyticsSink = {
      post: async (payload) => {
        posted.push(String(payload.id));
        return { attempts: 1 };
      },
    };
    const one = new IdempotentDelivery({
      cache: new IoRedisCacheClient(services.redis),
      analytics: single,
      ttlSeconds: TTL_SECONDS,
      keyPrefix: prefix,
    });
    const [first] = items(['1']);
    expect(await one.deliver(first?.payload as MergedPayload, first?.hash as string)).toBe(
      'posted',
    );
    const before = services.mock.received.length;
    expect(await batchDelivery(prefix).deliverMany(items(['1', '2']))).toEqual([
      'duplicate',
      'posted',
    ]);
    expect(receivedIds(before)).toEqual(['2']);
    const [second] = items(['2']);
    expect(await one.delivered([payloadHash(second?.payload as MergedPayload)])).toEqual([true]);
    expect(await one.deliver(second?.payload as MergedPayload, second?.hash as string)).toBe(
      'duplicate',
    );
    expect(posted).toEqual(['1']);
  });

  for (const form of ['results', 'status-400'] as const) {
    it(`dead-letters only the events the sink rejects (${form}) and releases their claims`, async () => {
      const prefix = newPrefix();
      services.mock.rejectIds = new Set(['2', '3']);
      services.mock.rejectForm = form;
      try {
        const outcomes = await batchDelivery(prefix).deliverMany(items(['1', '2', '3', '4']));
        expect(outcomes[0]).toBe('posted');
        expect(outcomes[1]).toMatchObject({ rejected: expect.stringContaining('id 2 rejected') });
        expect(outcomes[2]).toMatchObject({ rejected: expect.stringContaining('id 3 rejected') });
        expect(outcomes[3]).toBe('posted');
      } finally {
        services.mock.rejectIds = new Set();
      }
      // Released: a replay delivers them.
      expect(await batchDelivery(prefix).deliverMany(items(['2', '3', '4']))).toEqual([
        'posted',
        'posted',
        'duplicate',
      ]);
    });
  }

  it('retries a request answered 503 and 429 with the same Idempotency-Key, then marks it', async () => {
    const prefix = newPrefix();
    services.mock.faults.push({ kind: 'status', status: 503 }, { kind: 'status', status: 429 });
    const before = services.mock.received.length;
    expect(await batchDelivery(prefix).deliverMany(items(['1', '2']))).toEqual([
      'posted',
      'posted',
    ]);
    expect(receivedIds(before)).toEqual(['1', '2']);
  });

  it('releases every claim of a request that fails after its retries, with the reason', async () => {
    const prefix = newPrefix();
    services.mock.faults.down = true;
    let outcomes: unknown[];
    try {
      outcomes = await batchDelivery(prefix).deliverMany(items(['1', '2']));
    } finally {
      services.mock.faults.down = false;
    }
    expect(outcomes).toEqual([
      expect.objectContaining({ rejected: expect.stringContaining('HTTP 503'), attempts: 4 }),
      expect.objectContaining({ rejected: expect.stringContaining('HTTP 503'), attempts: 4 }),
    ]);
    expect(await services.redis.keys(`${prefix}delivered*`)).toEqual([]);
  });

  it('splits by bytes and dead-letters an event too big for any request', async () => {
    const prefix = newPrefix();
    const format = { ...FORMAT, maxEvents: 100, maxBytes: 800 };
    const small = aPayload('big');
    const big = {
      ...small,
      customer: { ...(small.customer as Record<string, unknown>), notes: 'x'.repeat(2_000) },
    };
    const batch = [...items(['1', '2', '3', '4', '5']), { payload: big, hash: payloadHash(big) }];
    const requests = services.mock.batchRequests;
    const outcomes = await batchDelivery(prefix, format).deliverMany(batch);
    expect(outcomes.slice(0, 5)).toEqual(['posted', 'posted', 'posted', 'posted', 'posted']);
    expect(outcomes[5]).toMatchObject({ rejected: expect.stringContaining('over the 800-byte') });
    expect(services.mock.batchRequests - requests).toBeGreaterThan(1);
  });

  it('reports held what another live invocation holds past the wait, and delivers the rest', async () => {
    const prefix = newPrefix();
    const batch = items(['1', '2', '3']);
    // Another invocation's live claim on payload 2 (its deadline a minute away).
    await batchDelivery(prefix).deliverMany([batch[1] as (typeof batch)[number]]);
    const [key] = await services.redis.keys(`${prefix}delivered*`);
    await services.redis.set(
      key as string,
      JSON.stringify({
        status: 'INPROGRESS',
        expiration: Math.round(Date.now() / 1000 + TTL_SECONDS),
        in_progress_expiration: Date.now() + 60_000,
      }),
    );
    const before = services.mock.received.length;
    expect(await batchDelivery(prefix).deliverMany(batch)).toEqual(['posted', 'held', 'posted']);
    expect(receivedIds(before)).toEqual(['1', '3']);
    // The claim stays the other invocation's: nothing of it was released or overwritten.
    expect(JSON.parse((await services.redis.get(key as string)) ?? '{}')).toMatchObject({
      status: 'INPROGRESS',
    });
  });

  it('takes over the claims of an invocation that died between the POST and the marks', async () => {
    const prefix = newPrefix();
    const batch = items(['1', '2']);
    await batchDelivery(prefix).deliverMany(batch);
    // Undo the marks: what Redis holds when the invocation died after the POST, its lock expired.
    const died = JSON.stringify({
      status: 'INPROGRESS',
      expiration: Math.round(Date.now() / 1000 + TTL_SECONDS),
      in_progress_expiration: Date.now() - 1,
    });
    const keys = await services.redis.keys(`${prefix}delivered*`);
    expect(keys).toHaveLength(2);
    for (const key of keys) await services.redis.set(key, died, 'EX', TTL_SECONDS);
    const before = services.mock.received.length;
    expect(await batchDelivery(prefix).deliverMany(batch)).toEqual(['posted', 'posted']);
    // The mock honours ids: the retried events are acknowledged, not processed a second time,
    // and counted as payloads that arrived again.
    expect(receivedIds(before)).toEqual([]);
    expect(services.mock.stats().repeatedPayloads).toBe(2);
    services.mock.honourIdempotencyKey = false;
    try {
      await new IoRedisCacheClient(services.redis).del(
        await services.redis.keys(`${prefix}delivered*`),
      );
      expect(await batchDelivery(prefix).deliverMany(batch)).toEqual(['posted', 'posted']);
      // A sink that ignores ids and keys processes them again: the documented duplicate.
      expect(receivedIds(before)).toEqual(['1', '2']);
      expect(services.mock.stats().repeatedPayloads).toBe(4);
    } finally {
      services.mock.honourIdempotencyKey = true;
    }
  });

  it('gives back the claims it made when the store fails mid-claim, and leaves the others alone', async () => {
    const prefix = newPrefix();
    const batch = items(['1', '2', '3', '4']);
    // Payload 1 delivered earlier; payload 2 held by a live invocation.
    await batchDelivery(prefix).deliverMany(batch.slice(0, 2));
    const held = (await services.redis.keys(`${prefix}delivered*`)).sort();
    const heldKey = await keyOf(prefix, batch[1] as (typeof batch)[number]);
    const live = JSON.stringify({
      status: 'INPROGRESS',
      expiration: Math.round(Date.now() / 1000 + TTL_SECONDS),
      in_progress_expiration: Date.now() + 60_000,
    });
    await services.redis.set(heldKey, live);
    // 3 and 4 are claimed; reading the records found for 1 and 2 fails (the connection drops).
    const failing = new (class extends IoRedisCacheClient {
      override get(): Promise<string | null> {
        return Promise.reject(new Error('connection lost'));
      }
    })(services.redis);
    const before = services.mock.received.length;
    await expect(batchDelivery(prefix, FORMAT, failing).deliverMany(batch)).rejects.toThrow(
      'connection lost',
    );
    expect(receivedIds(before)).toEqual([]);
    // The claims on 3 and 4 were given back; 1's mark and the other invocation's claim on 2 stand.
    expect((await services.redis.keys(`${prefix}delivered*`)).sort()).toEqual(held);
    expect(await services.redis.get(heldKey)).toBe(live);
    expect(await batchDelivery(prefix).deliverMany(batch.slice(2))).toEqual(['posted', 'posted']);
  });

  it('posts nothing and touches no record when the claims fail in the store', async () => {
    const prefix = newPrefix();
    const batch = items(['1', '2', '3']);
    await batchDelivery(prefix).deliverMany(batch.slice(0, 1));
    const before = await services.redis.keys(`${prefix}delivered*`);
    const failing = new (class extends IoRedisCacheClient {
      override setMany(
        entries: Parameters<IoRedisCacheClient['setMany']>[0],
        options?: { NX?: boolean },
      ) {
        if (options?.NX) return Promise.reject(new Error('connection lost'));
        return super.setMany(entries, options);
      }
    })(services.redis);
    const received = services.mock.received.length;
    await expect(batchDelivery(prefix, FORMAT, failing).deliverMany(batch)).rejects.toThrow(
      'connection lost',
    );
    expect(receivedIds(received)).toEqual([]);
    expect(await services.redis.keys(`${prefix}delivered*`)).toEqual(before);
  });

  it('writes the records Powertools would: expiries in seconds, the in-progress one in ms, TTLs', async () => {
    const prefix = newPrefix();
    const batch = items(['1']);
    const item = batch[0];
    const seen: Record<string, unknown>[] = [];
    const delivery = batchDelivery(prefix, FORMAT, undefined, async () => {
      const [key] = await services.redis.keys(`${prefix}delivered*`);
      seen.push(JSON.parse((await services.redis.get(key as string)) ?? '{}'));
      seen.push({ ttl: await services.redis.ttl(key as string) });
    });
    delivery.registerInvocation({ getRemainingTimeInMillis: () => 30_000 });
    const before = Date.now();
    expect(await delivery.deliverMany(batch)).toEqual(['posted']);
    const [key] = await services.redis.keys(`${prefix}delivered*`);
    const nowSeconds = before / 1000;
    expect(seen[0]).toMatchObject({ status: 'INPROGRESS' });
    const claim = seen[0] as { expiration: number; in_progress_expiration: number };
    expect(claim.expiration).toBeGreaterThanOrEqual(Math.floor(nowSeconds + TTL_SECONDS) - 1);
    expect(claim.expiration).toBeLessThanOrEqual(Math.ceil(nowSeconds + TTL_SECONDS) + 5);
    expect(claim.in_progress_expiration).toBeGreaterThanOrEqual(before + 30_000 - 1_000);
    expect(claim.in_progress_expiration).toBeLessThanOrEqual(before + 30_000 + 5_000);
    expect((seen[1] as { ttl: number }).ttl).toBeGreaterThan(TTL_SECONDS - 10);
    const mark = JSON.parse((await services.redis.get(key as string)) ?? '{}');
    expect(mark).toMatchObject({ status: 'COMPLETED', data: { hash: item?.hash, attempts: 1 } });
    expect(mark.expiration).toBeGreaterThanOrEqual(Math.floor(nowSeconds + TTL_SECONDS) - 1);
    expect(mark.expiration).toBeLessThanOrEqual(Math.ceil(nowSeconds + TTL_SECONDS) + 5);
    expect(await services.redis.ttl(key as string)).toBeGreaterThan(TTL_SECONDS - 10);
  });

  it('leaves to a live invocation the payloads it claimed, whatever the other one finds', async () => {
    const prefix = newPrefix();
    const batch = items(['1', '2', '3']);
    let release: () => void = () => {};
    const posting = new Promise<void>((resolve) => {
      release = resolve;
    });
    let claimed: () => void = () => {};
    const claimsTaken = new Promise<void>((resolve) => {
      claimed = resolve;
    });
    const first = batchDelivery(prefix, FORMAT, undefined, async () => {
      claimed();
      await posting;
    });
    const running = first.deliverMany(batch);
    await claimsTaken;
    const before = services.mock.received.length;
    // The second invocation finds the first one's claims live: it waits, then hands them back.
    expect(await batchDelivery(prefix).deliverMany(batch)).toEqual(['held', 'held', 'held']);
    release();
    expect(await running).toEqual(['posted', 'posted', 'posted']);
    expect(receivedIds(before)).toEqual(['1', '2', '3']);
  });

  it('gives back the claims of the requests it never sent when one request fails', async () => {
    const prefix = newPrefix();
    const format = { ...FORMAT, maxEvents: 2 };
    let calls = 0;
    const delivery = new BatchedDelivery({
      cache: new IoRedisCacheClient(services.redis),
      analytics: {
        postBatch: async () => {
          calls++;
          throw new Error('the sink client broke');
        },
      },
      format,
      ttlSeconds: TTL_SECONDS,
      keyPrefix: prefix,
      concurrency: 1,
    });
    await expect(delivery.deliverMany(items(['1', '2', '3', '4', '5', '6']))).rejects.toThrow(
      'the sink client broke',
    );
    expect(calls).toBe(1);
    expect(await services.redis.keys(`${prefix}delivered*`)).toEqual([]);
  });
});

/** The Redis key of a payload's record: the one key a delivery of it alone writes. */
async function keyOf(prefix: string, item: { payload: MergedPayload; hash: string }) {
  const probe = `${prefix}probe-`;
  await batchDelivery(probe).deliverMany([item]);
  const [key] = await services.redis.keys(`${probe}delivered*`);
  await services.redis.del(key as string);
  return (key as string).replace(probe, prefix);
}
