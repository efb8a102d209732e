import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { payloadHash } from '../../shared/domain/merge.ts';
import { TcpProxy } from '../faults/network.ts';
import { aCustomer, aProduct, testServices, uniquePrefix } from '../support/factories.ts';

let redis: Redis;
let prefix: string;

beforeAll(async () => {
  redis = await connectRedis({ url: testServices().redisUrl });
  prefix = uniquePrefix('cache');
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('IoRedisCacheClient (what Powertools CachePersistenceLayer calls, on ioredis)', () => {
  it('maps {EX, NX} to a conditional write with a TTL', async () => {
    const client = new IoRedisCacheClient(redis);
    const key = `${prefix}claim`;
    expect(await client.set(key, '{"status":"INPROGRESS"}', { EX: 60, NX: true })).toBe('OK');
    expect(await client.set(key, '{"status":"INPROGRESS"}', { EX: 60, NX: true })).toBeNull();
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(55);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it('overwrites with a fresh TTL when NX is absent, and deletes', async () => {
    const client = new IoRedisCacheClient(redis);
    const key = `${prefix}record`;
    await client.set(key, 'first', { EX: 10, NX: true });
    expect(await client.set(key, { status: 'COMPLETED' }, { EX: 86_400 })).toBe('OK');
    expect(await client.get(key)).toBe('{"status":"COMPLETED"}');
    expect(await redis.ttl(key)).toBeGreaterThan(86_000);
    expect(await client.del([key])).toBe(1);
    expect(await client.get(key)).toBeNull();
    expect(await client.del([])).toBe(0);
  });

  it('rejects a TTL that is not a positive whole number', async () => {
    const client = new IoRedisCacheClient(redis);
    await expect(client.set(`${prefix}bad`, 'x', { EX: 1.5 })).rejects.toThrow(
      'cache TTL must be a positive whole number of seconds, got 1.5',
    );
  });

  it('writes many records in one call: claims where absent, overwrites without NX', async () => {
    const client = new IoRedisCacheClient(redis);
    const keys = Array.from({ length: 1_500 }, (_, i) => `${prefix}many-${i}`);
    await redis.set(keys[700] as string, 'taken');
    const claims = await client.setMany(
      keys.map((key) => ({ key, value: 'INPROGRESS', ttl: 60 })),
      { NX: true },
    );
    expect(claims.filter((answer) => answer === 'OK')).toHaveLength(1_499);
    expect(claims[700]).toBeNull();
    expect(await redis.get(keys[700] as string)).toBe('taken');
    expect(await redis.get(keys[1_499] as string)).toBe('INPROGRESS');
    await client.setMany(keys.map((key) => ({ key, value: 'COMPLETED', ttl: 86_400 })));
    expect(await redis.mget(keys[0] as string, keys[700] as string)).toEqual([
      'COMPLETED',
      'COMPLETED',
    ]);
    expect(await redis.ttl(keys[1_000] as string)).toBeGreaterThan(86_000);
    await expect(client.setMany([{ key: `${prefix}bad`, value: 'x', ttl: 0 }])).rejects.toThrow(
      'cache TTL must be a positive whole number of seconds, got 0',
    );
  });

  it('lets the batch pre-check find what Powertools recorded as delivered', async () => {
    const posted: string[] = [];
    const delivery = new IdempotentDelivery({
      cache: new IoRedisCacheClient(redis),
      analytics: {
        post: async (payload) => {
          posted.push(payload.id ?? '');
          return { attempts: 1 };
        },
      },
      ttlSeconds: 60,
      keyPrefix: prefix,
    });
    delivery.registerInvocation({ getRemainingTimeInMillis: () => 30_000 });
    const one = { id: '1', customer: aCustomer('1'), inventory: aProduct('1') };
    const two = { id: '2', customer: aCustomer('2'), inventory: aProduct('2') };
    expect(await delivery.delivered([payloadHash(one), payloadHash(two)])).toEqual([false, false]);
    expect(await delivery.deliver(one, payloadHash(one))).toBe('posted');
    expect(await delivery.delivered([payloadHash(one), payloadHash(two)])).toEqual([true, false]);
    expect(await delivery.deliver(structuredClone(one), payloadHash(one))).toBe('duplicate');
    expect(posted).toEqual(['1']);
  });

  describe('through a Redis outage', () => {
    let proxy: TcpProxy;
    let viaProxy: Redis;

    beforeAll(async () => {
      const target = new URL(testServices().redisUrl);
      proxy = await new TcpProxy(target.hostname, Number(target.port || 6379)).start();
      viaProxy = await connectRedis({ url: `redis://127.0.0.1:${proxy.port}` });
    });
    afterAll(async () => {
      viaProxy.disconnect();
      await proxy.stop();
    });

    it('keeps the write after a POST (COMPLETED) retrying until Redis is back', async () => {
      const client = new IoRedisCacheClient(viaProxy, { settleWithinMs: 10_000 });
      const key = `${prefix}completed`;
      proxy.cut();
      const healed = new Promise((resolve) => setTimeout(resolve, 1500)).then(() => proxy.heal());
      await expect(client.set(key, 'COMPLETED', { EX: 60 })).resolves.toBe('OK');
      await healed;
      expect(await redis.get(key)).toBe('COMPLETED');
    });

    it('keeps bulk marks retrying until Redis is back, and fails bulk claims at once', async () => {
      const client = new IoRedisCacheClient(viaProxy, { settleWithinMs: 10_000 });
      const key = `${prefix}bulk-completed`;
      proxy.cut();
      const started = Date.now();
      await expect(
        client.setMany([{ key: `${prefix}bulk-claim`, value: 'x', ttl: 60 }], { NX: true }),
      ).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(10_000);
      const healed = new Promise((resolve) => setTimeout(resolve, 1500)).then(() => proxy.heal());
      await expect(client.setMany([{ key, value: 'COMPLETED', ttl: 60 }])).resolves.toEqual(['OK']);
      await healed;
      expect(await redis.get(key)).toBe('COMPLETED');
    });

    it('fails the claim (SET NX) at once, before anything is posted', async () => {
      const client = new IoRedisCacheClient(viaProxy, { settleWithinMs: 10_000 });
      proxy.cut();
      try {
        const started = Date.now();
        await expect(client.set(`${prefix}claim2`, 'x', { EX: 60, NX: true })).rejects.toThrow();
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        await proxy.heal();
      }
    });
  });
});
