import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { RedisJoinStore } from '../../shared/adapters/redis-join-store.ts';
import { RedisPendingIndex } from '../../shared/adapters/redis-pending-index.ts';
import type { DecodedRecord } from '../../shared/domain/kafka-record.ts';
import { canonicalJson, type MergedPayload } from '../../shared/domain/merge.ts';
import type { AnalyticsSink } from '../../shared/ports.ts';
import { mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { sweepPending } from '../../shared/use-cases/sweep-pending.ts';
import { testServices, uniquePrefix } from '../support/factories.ts';
import { aThreeSidedRecord, threeSidedDeps } from '../support/three-sources.ts';

const clients: Redis[] = [];
const prefixes: string[] = [];

beforeAll(async () => {
  for (let i = 0; i < 4; i++) clients.push(await connectRedis({ url: testServices().redisUrl }));
});
afterAll(async () => {
  const [first] = clients;
  for (const prefix of prefixes) {
    const keys = (await first?.keys(`${prefix}*`)) ?? [];
    if (keys.length > 0) await first?.del(...keys);
  }
  for (const client of clients) client.disconnect();
});

/** Analytics that counts each distinct payload it is given. */
function countingAnalytics() {
  const counts = new Map<string, number>();
  const received: MergedPayload[] = [];
  const sink: AnalyticsSink = {
    post: async (payload) => {
      const text = canonicalJson(payload);
      counts.set(text, (counts.get(text) ?? 0) + 1);
      received.push(payload);
      await new Promise((resolve) => setImmediate(resolve));
      return { attempts: 1 };
    },
  };
  return { sink, counts, received };
}

/**
 * One function invocation (a merge or a sweep) on its own Redis connection, sharing the keys of
 * the test: its own join store, pending index and idempotent delivery, as a separate Lambda
 * container would have them.
 */
function invocation(
  client: Redis,
  keyPrefix: string,
  join: object,
  analytics: AnalyticsSink,
  clock: { now: number },
) {
  const required = ['customer', 'inventory', 'price'];
  const joinKeys = { name: 'main', required, sides: required };
  const store = new RedisJoinStore(client, {
    keyPrefix,
    ttlSeconds: 3_600,
    join: joinKeys,
    now: () => clock.now,
  });
  const index = new RedisPendingIndex(client, { keyPrefix, join: joinKeys });
  const delivery = new IdempotentDelivery({
    cache: new IoRedisCacheClient(client),
    analytics,
    ttlSeconds: 3_600,
    keyPrefix,
    inProgressWaitMs: 20_000,
  });
  const pair = {
    upsertMany: store.upsertMany.bind(store),
    due: index.due.bind(index),
    look: index.look.bind(index),
    markEmitted: index.markEmitted.bind(index),
    drop: index.drop.bind(index),
    stats: index.stats.bind(index),
    prune: index.prune.bind(index),
    list: index.list.bind(index),
  };
  return threeSidedDeps(join, pair, clock, delivery);
}

function records(side: 'customer' | 'inventory' | 'price', ids: string[]): DecodedRecord[] {
  return ids.map((id) => aThreeSidedRecord(side, id));
}

const IDS = Array.from({ length: 200 }, (_, i) => String(i + 1));

describe('a three-sided join on real Redis, with invocations racing', () => {
  it('delivers every id once when the three topics are merged at once, twice over', async () => {
    const keyPrefix = uniquePrefix('race');
    prefixes.push(keyPrefix);
    const analytics = countingAnalytics();
    const clock = { now: 1_000 };
    const join = { sides: { pricing: 'price' } };
    const invocations = clients
      .slice(0, 3)
      .map((client) => invocation(client, keyPrefix, join, analytics.sink, clock));
    const batches = [records('customer', IDS), records('inventory', IDS), records('price', IDS)];
    // Each topic's batch in its own invocation, all at once; then the whole thing again (retries).
    for (let round = 0; round < 2; round++) {
      await Promise.all(invocations.map((deps, i) => mergeBatch(batches[i] ?? [], deps.merge)));
    }
    expect(analytics.received).toHaveLength(IDS.length);
    expect([...analytics.counts.values()].every((count) => count === 1)).toBe(true);
    expect(new Set(analytics.received.map((payload) => payload.id)).size).toBe(IDS.length);
    expect(
      analytics.received.every(
        (payload) =>
          payload.price !== undefined &&
          payload.inventory !== undefined &&
          payload.customer !== undefined,
      ),
    ).toBe(true);
    expect((await invocations[0]?.sweep.pending.stats())?.pending).toBe(0);
  });

  it('delivers each distinct payload once when sweepers and merges race on the same ids', async () => {
    const keyPrefix = uniquePrefix('sweep-race');
    prefixes.push(keyPrefix);
    const analytics = countingAnalytics();
    const clock = { now: 0 };
    const join = { sides: { pricing: 'price' }, missing: 'emit after 1s' };
    const [a, b, c, d] = clients.map((client) =>
      invocation(client, keyPrefix, join, analytics.sink, clock),
    );
    if (!a || !b || !c || !d) throw new Error('four Redis clients expected');
    await mergeBatch(records('customer', IDS), a.merge);
    clock.now = 5_000;
    // Merges feed the other sides in small batches while two sweepers emit the same ids.
    const chunked = async (side: 'inventory' | 'price', merge: typeof a.merge) => {
      for (let start = 0; start < IDS.length; start += 10) {
        await mergeBatch(records(side, IDS.slice(start, start + 10)), merge);
      }
    };
    const [sweepOne, sweepTwo] = await Promise.all([
      sweepPending({ ...b.sweep, limit: 1_000, concurrency: 8 }),
      sweepPending({ ...c.sweep, limit: 1_000, concurrency: 8 }),
      chunked('inventory', d.merge),
      chunked('price', a.merge),
    ]);
    expect([...analytics.counts.values()].filter((count) => count > 1)).toEqual([]);
    const complete = analytics.received.filter(
      (payload) => payload.customer && payload.inventory && payload.price,
    );
    expect(new Set(complete.map((payload) => payload.id)).size).toBe(IDS.length);
    expect(complete).toHaveLength(IDS.length);
    expect((await a.sweep.pending.stats()).pending).toBe(0);
    console.log(
      `sweep race: ${analytics.received.length} payloads for ${IDS.length} ids (${IDS.length} complete, ${analytics.received.length - IDS.length} partial); sweeps emitted ${sweepOne?.emitted}+${sweepTwo?.emitted}, saw ${sweepOne?.duplicates}+${sweepTwo?.duplicates} duplicates, ${sweepOne?.settled}+${sweepTwo?.settled} settled`,
    );
  });
});
