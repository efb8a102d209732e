import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import { AnalyticsDeliveryError, DeliveryInProgressError } from '../../shared/errors.ts';
import type { AnalyticsSink } from '../../shared/ports.ts';
import { CountingCache } from '../support/counting-cache.ts';
import { aCustomer, aProduct, testServices, uniquePrefix, waitFor } from '../support/factories.ts';

const TTL_SECONDS = 3_600;

let redis: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  redis = await connectRedis({ url: testServices().redisUrl });
});
afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
});

const aPayload = (id: string): MergedPayload => ({
  id,
  customer: aCustomer(id),
  inventory: aProduct(id),
});

/** An Analytics API that records what it is given; `hold` keeps posts open until released. */
function recordingAnalytics() {
  const posted: { id: string; hash: string }[] = [];
  let release: () => void = () => {};
  let held: Promise<void> | undefined;
  const sink: AnalyticsSink = {
    post: async (payload, hash) => {
      posted.push({ id: payload.id ?? '', hash });
      if (held) await held;
      return { attempts: 1 };
    },
  };
  return {
    sink,
    posted,
    hold() {
      held = new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    release: () => release(),
  };
}

/** One merge invocation's delivery, on real Redis, under the test's prefix. */
function invocation(
  keyPrefix: string,
  analytics: AnalyticsSink,
  options: { remainingMs?: number; inProgressWaitMs?: number; cache?: CountingCache } = {},
) {
  const delivery = new IdempotentDelivery({
    cache: options.cache ?? new IoRedisCacheClient(redis),
    analytics,
    ttlSeconds: TTL_SECONDS,
    keyPrefix,
    inProgressWaitMs: options.inProgressWaitMs ?? 5_000,
  });
  delivery.registerInvocation({ getRemainingTimeInMillis: () => options.remainingMs ?? 30_000 });
  return delivery;
}

function newPrefix(): string {
  const prefix = uniquePrefix('once');
  prefixes.push(prefix);
  return prefix;
}

/** The idempotency record Powertools wrote under the prefix (there is one payload per test). */
async function theRecord(prefix: string) {
  const keys = (await redis.keys(`${prefix}delivered*`)).filter((key) => !key.endsWith(':lock'));
  expect(keys).toHaveLength(1);
  const key = keys[0] as string;
  const text = await redis.get(key);
  return {
    key,
    value: (text === null ? null : JSON.parse(text)) as Record<string, unknown> | null,
  };
}

/** Changes fields of the stored record in place, keeping its Redis TTL. */
async function rewriteRecord(prefix: string, changes: Record<string, unknown>) {
  const { key, value } = await theRecord(prefix);
  await redis.set(key, JSON.stringify({ ...value, ...changes }), 'KEEPTTL');
}

describe('IdempotentDelivery on real Redis', () => {
  it('counts a COMPLETED, unexpired record as delivered and never posts it again', async () => {
    const prefix = newPrefix();
    const analytics = recordingAnalytics();
    const payload = aPayload('1');
    const first = invocation(prefix, analytics.sink);
    expect(await first.delivered([payloadHash(payload)])).toEqual([false]);
    expect(await first.deliver(payload, payloadHash(payload))).toBe('posted');

    const { key, value } = await theRecord(prefix);
    expect(value).toMatchObject({ status: 'COMPLETED' });
    expect(await redis.ttl(key)).toBeGreaterThan(TTL_SECONDS - 60);

    const later = invocation(prefix, analytics.sink);
    expect(await later.delivered([payloadHash(payload), payloadHash(aPayload('2'))])).toEqual([
      true,
      false,
    ]);
    expect(await later.deliver(structuredClone(payload), payloadHash(payload))).toBe('duplicate');
    expect(analytics.posted).toEqual([{ id: '1', hash: payloadHash(payload) }]);
  });

  it('does not count an expired COMPLETED record as delivered: the payload is posted again', async () => {
    const prefix = newPrefix();
    const analytics = recordingAnalytics();
    const payload = aPayload('1');
    await invocation(prefix, analytics.sink).deliver(payload, payloadHash(payload));
    // The record's own expiry has passed while Redis still holds the key (its TTL is coarser).
    await rewriteRecord(prefix, { expiration: Math.floor(Date.now() / 1000) - 5 });

    const later = invocation(prefix, analytics.sink);
    expect(await later.delivered([payloadHash(payload)])).toEqual([false]);
    expect(await later.deliver(payload, payloadHash(payload))).toBe('posted');
    expect(analytics.posted).toHaveLength(2);
    const { value } = await theRecord(prefix);
    expect(value).toMatchObject({ status: 'COMPLETED' });
    expect(value?.expiration).toBeGreaterThan(Date.now() / 1000 + TTL_SECONDS - 60);
  });

  it('does not count a record that is in progress, unreadable or without an expiry as delivered', async () => {
    const prefix = newPrefix();
    const analytics = recordingAnalytics();
    const payload = aPayload('1');
    const delivery = invocation(prefix, analytics.sink);
    await delivery.deliver(payload, payloadHash(payload));
    const { key } = await theRecord(prefix);
    for (const stored of [
      JSON.stringify({ status: 'INPROGRESS', expiration: Date.now() / 1000 + 600 }),
      JSON.stringify({ status: 'COMPLETED' }),
      JSON.stringify({ status: 'COMPLETED', expiration: String(Date.now() / 1000 + 600) }),
      'not json',
    ]) {
      await redis.set(key, stored, 'KEEPTTL');
      expect(await delivery.delivered([payloadHash(payload)]), stored).toEqual([false]);
    }
  });

  it('waits for a payload another invocation holds in progress, and does not post it when that one completes', async () => {
    const prefix = newPrefix();
    const other = recordingAnalytics();
    other.hold();
    const payload = aPayload('1');
    const first = invocation(prefix, other.sink).deliver(payload, payloadHash(payload));
    await waitFor(async () => other.posted.length === 1, 'the first invocation to post');
    expect((await theRecord(prefix)).value).toMatchObject({ status: 'INPROGRESS' });

    const mine = recordingAnalytics();
    const cache = new CountingCache(new IoRedisCacheClient(redis));
    const second = invocation(prefix, mine.sink, { cache });
    expect(await second.delivered([payloadHash(payload)])).toEqual([false]);
    const outcome = second.deliver(payload, payloadHash(payload));
    await waitFor(() => cache.claimsRefused >= 1, 'the second invocation to find it in progress');
    other.release();
    expect(await first).toBe('posted');
    expect(await outcome).toBe('duplicate');
    expect(mine.posted).toEqual([]);
  });

  it('fails (so the batch is retried) when another invocation holds the payload longer than the wait', async () => {
    const prefix = newPrefix();
    const other = recordingAnalytics();
    other.hold();
    const payload = aPayload('1');
    const first = invocation(prefix, other.sink).deliver(payload, payloadHash(payload));
    await waitFor(async () => other.posted.length === 1, 'the first invocation to post');

    const mine = recordingAnalytics();
    const second = invocation(prefix, mine.sink, { inProgressWaitMs: 300 });
    await expect(second.deliver(payload, payloadHash(payload))).rejects.toThrow(
      new DeliveryInProgressError(payloadHash(payload)),
    );
    expect(mine.posted).toEqual([]);
    other.release();
    await first;
  });

  it('takes over a payload left in progress by an invocation that died, once its lock expires', async () => {
    const prefix = newPrefix();
    const crashed = recordingAnalytics();
    crashed.hold();
    const payload = aPayload('1');
    const dying = invocation(prefix, crashed.sink, { remainingMs: 300 });
    const abandoned = dying.deliver(payload, payloadHash(payload));
    await waitFor(async () => crashed.posted.length === 1, 'the first invocation to post');

    const mine = recordingAnalytics();
    const retry = invocation(prefix, mine.sink, { inProgressWaitMs: 10_000 });
    expect(await retry.deliver(payload, payloadHash(payload))).toBe('posted');
    expect(mine.posted).toEqual([{ id: '1', hash: payloadHash(payload) }]);
    crashed.release();
    await abandoned;
  });

  it('releases the record of a payload Analytics refused, so a replay delivers it', async () => {
    const prefix = newPrefix();
    const payload = aPayload('1');
    const refusing: AnalyticsSink = {
      post: async () => {
        throw new AnalyticsDeliveryError(503, 5, 'HTTP 503');
      },
    };
    const failed = invocation(prefix, refusing);
    await expect(failed.deliver(payload, payloadHash(payload))).rejects.toThrow(
      AnalyticsDeliveryError,
    );
    expect(await redis.keys(`${prefix}delivered*`)).toEqual([]);

    const analytics = recordingAnalytics();
    const replay = invocation(prefix, analytics.sink);
    expect(await replay.delivered([payloadHash(payload)])).toEqual([false]);
    expect(await replay.deliver(payload, payloadHash(payload))).toBe('posted');
    expect(analytics.posted).toHaveLength(1);
  });
});
