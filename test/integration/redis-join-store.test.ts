import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { RedisJoinStore } from '../../shared/adapters/redis-join-store.ts';
import { RedisPendingIndex } from '../../shared/adapters/redis-pending-index.ts';
import type { JoinStore, PendingIndex } from '../../shared/ports.ts';
import { aCustomer, aProduct, testServices, uniquePrefix } from '../support/factories.ts';
import { joinStoreContract } from '../support/join-store-contract.ts';

const TTL_SECONDS = 3_600;

let redis: Redis;
const prefixes: string[] = [];

function newPrefix(): string {
  const keyPrefix = uniquePrefix('join');
  prefixes.push(keyPrefix);
  return keyPrefix;
}

const JOIN = {
  name: 'main',
  required: ['customer', 'inventory'],
  sides: ['customer', 'inventory'],
};

/** A store under a prefix of its own, so each test starts with no join state. */
function freshStore(ttlSeconds = TTL_SECONDS): RedisJoinStore {
  return new RedisJoinStore(redis, { keyPrefix: newPrefix(), ttlSeconds, join: JOIN });
}

/** The join store and its pending index over the same keys, as the merge and sweeper use them. */
function freshPair(required: readonly string[], clock: { now: number }): JoinStore & PendingIndex {
  const keyPrefix = newPrefix();
  // The contract's joins have these sides; `required` is a subset of them.
  const join = { name: 'main', required, sides: ['customer', 'inventory', 'price'] };
  const store = new RedisJoinStore(redis, {
    keyPrefix,
    ttlSeconds: TTL_SECONDS,
    join,
    now: () => clock.now,
  });
  const index = new RedisPendingIndex(redis, { keyPrefix, join });
  return {
    upsertMany: (upserts) => store.upsertMany(upserts),
    due: (cutoff, limit) => index.due(cutoff, limit),
    look: (id) => index.look(id),
    markEmitted: (id) => index.markEmitted(id),
    drop: (id, cutoff) => index.drop(id, cutoff),
    stats: () => index.stats(),
    prune: (limit) => index.prune(limit),
    list: (limit) => index.list(limit),
  };
}

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

describe('RedisJoinStore (the Lua script production runs), on real Redis', () => {
  joinStoreContract(({ required, clock }) => freshPair(required, clock));

  it('gives every id the full TTL again on each upsert, older ones included', async () => {
    const joins = freshStore();
    const key = joins.keyFor('1');
    await joins.upsertMany([{ id: '1', side: 'customer', record: aCustomer('1'), version: 10 }]);
    expect(await redis.ttl(key)).toBeGreaterThan(TTL_SECONDS - 60);

    await redis.expire(key, 5);
    await joins.upsertMany([{ id: '1', side: 'inventory', record: aProduct('1'), version: 10 }]);
    expect(await redis.ttl(key)).toBeGreaterThan(TTL_SECONDS - 60);

    await redis.expire(key, 5);
    const [state] = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'Older' }), version: 9 },
    ]);
    expect(state?.sides.customer?.name).toBe('Customer 1');
    expect(await redis.ttl(key)).toBeGreaterThan(TTL_SECONDS - 60);
  });

  it('prunes from the pending index the ids whose join state expired, behind live old ids too', async () => {
    const keyPrefix = newPrefix();
    const index = new RedisPendingIndex(redis, { keyPrefix, join: JOIN });
    const clock = { now: 1_000 };
    const lasting = new RedisJoinStore(redis, {
      keyPrefix,
      ttlSeconds: TTL_SECONDS,
      join: JOIN,
      now: () => clock.now,
    });
    const brief = new RedisJoinStore(redis, {
      keyPrefix,
      ttlSeconds: 1,
      join: JOIN,
      now: () => clock.now,
    });
    // The two oldest ids stay pending (live state); eight younger ones expire after a second.
    await lasting.upsertMany(
      ['a', 'b'].map((id) => ({ id, side: 'customer', record: aCustomer(id), version: 1 })),
    );
    clock.now = 2_000;
    await brief.upsertMany(
      Array.from({ length: 8 }, (_, i) => ({
        id: `x${i}`,
        side: 'inventory',
        record: aProduct(`x${i}`),
        version: 1,
      })),
    );
    expect((await index.stats()).pending).toBe(10);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    // Four looked at per call (two oldest, two in a moving window): the expired ids behind the
    // live ones go over a few calls, and the live ones stay.
    let removed = 0;
    for (let call = 0; call < 6; call++) removed += await index.prune(4);
    expect(removed).toBe(8);
    expect(await index.stats()).toEqual({ pending: 2, oldestFirstSeenMs: 1_000 });
    expect(await redis.zcard(`${keyPrefix}pending-due:main`)).toBe(2);
    expect((await index.list(10)).map((entry) => entry.id)).toEqual(['a', 'b']);
  });

  it('keeps join state with no expiry when the TTL is 0', async () => {
    const joins = freshStore(0);
    await joins.upsertMany([{ id: '1', side: 'customer', record: aCustomer('1'), version: 1 }]);
    expect(await redis.ttl(joins.keyFor('1'))).toBe(-1);
  });

  it('keeps the newer side across two stores sharing the keys (two merge invocations)', async () => {
    const keyPrefix = newPrefix();
    const one = new RedisJoinStore(redis, { keyPrefix, ttlSeconds: TTL_SECONDS, join: JOIN });
    const two = new RedisJoinStore(redis, { keyPrefix, ttlSeconds: TTL_SECONDS, join: JOIN });
    await one.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'Newer' }), version: 20 },
    ]);
    const [state] = await two.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'Older' }), version: 19 },
    ]);
    expect(state?.sides.customer?.name).toBe('Newer');
  });

  it('returns one state per upsert, in batch order, across the slices a large batch is sent in', async () => {
    const joins = freshStore();
    const customers = Array.from({ length: 1_200 }, (_, i) => ({
      id: String(i),
      side: 'customer' as const,
      record: aCustomer(String(i)),
      version: 10,
    }));
    // Id 3 again, in a later slice: a newer customer, then its product.
    const states = await joins.upsertMany([
      ...customers,
      { id: '3', side: 'customer', record: aCustomer('3', { name: 'Newer' }), version: 11 },
      { id: '3', side: 'inventory', record: aProduct('3'), version: 10 },
    ]);
    expect(states).toHaveLength(1_202);
    expect(states.slice(0, 1_200).map((state) => state.sides.customer?.id)).toEqual(
      customers.map(({ id }) => id),
    );
    expect(states[3]?.sides.customer?.name).toBe('Customer 3');
    expect(states[1_200]?.sides.customer?.name).toBe('Newer');
    expect(states[1_201]?.sides).toEqual({
      customer: aCustomer('3', { name: 'Newer' }),
      inventory: aProduct('3'),
    });
    expect(await redis.zcard(joins.keys.pending)).toBe(1_199);
  });

  it('fails the whole call when Redis refuses a command, instead of returning partial state', async () => {
    const joins = freshStore();
    await redis.set(joins.keyFor('1'), 'not a hash');
    await expect(
      joins.upsertMany([{ id: '1', side: 'customer', record: aCustomer('1'), version: 1 }]),
    ).rejects.toThrow(/WRONGTYPE/);
  });
});
