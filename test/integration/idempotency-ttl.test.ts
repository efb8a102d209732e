import { describe, expect, it } from 'vitest';
import { buildDelivery } from '../../functions/commons/delivery.ts';
import type { CacheEntry, IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';
import { loadReplayConfig } from '../../shared/config.ts';
import { type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import type { Log } from '../../shared/logger.ts';
import { deliveryServices } from '../support/delivery-services.ts';
import { aCustomer, aProduct, testServices } from '../support/factories.ts';
import { memoryLog } from '../support/in-memory.ts';

/**
 * docs/design.md and the mission: a delivered payload is remembered for IDEMPOTENCY_TTL_SECONDS
 * (24 h by default) in both delivery modes, and an in-progress claim locks its payload for the
 * invocation's remaining time. The TTLs used here are the default (86,400 s, taken from the
 * config loader, not given) and an odd value no code path could hard-code; every record write
 * is bounded on both sides, so a claim, a mark or a lock written with any fixed TTL fails.
 */
const ODD_TTL = 50_021;
/** The invocation's remaining time, as the Lambda context would give it: also odd. */
const REMAINING_MS = 47_311;

const services = deliveryServices('ttl');

const payloadOf = (id: string): MergedPayload => ({
  id,
  customer: aCustomer(id),
  inventory: aProduct(id),
});

type Write = { key: string; ttl: number; record: Record<string, unknown> };

/** The cache the delivery is built with, recording each record it is asked to write. */
function recording(cache: IoRedisCacheClient, writes: Write[]): IoRedisCacheClient {
  const note = (key: string, value: unknown, ttl: number) =>
    writes.push({ key, ttl, record: JSON.parse(String(value)) as Record<string, unknown> });
  return new Proxy(cache, {
    get(target, name) {
      if (name === 'set') {
        return (key: string, value: unknown, options?: { EX?: number }) => {
          if (typeof options?.EX === 'number' && !key.endsWith(':lock')) {
            note(key, value, options.EX);
          }
          return target.set(key, value, options);
        };
      }
      if (name === 'setMany') {
        return (entries: CacheEntry[], options?: { NX?: boolean }) => {
          for (const { key, value, ttl } of entries) note(key, value, ttl);
          return target.setMany(entries, options);
        };
      }
      const member = Reflect.get(target, name, target);
      return typeof member === 'function' ? member.bind(target) : member;
    },
  });
}

describe.each([
  ['single', undefined, 86_400],
  ['single', ODD_TTL, ODD_TTL],
  ['batch', undefined, 86_400],
  ['batch', ODD_TTL, ODD_TTL],
] as const)('the records of %s mode with IDEMPOTENCY_TTL_SECONDS=%s', (mode, setting, ttl) => {
  it('expire after the idempotency TTL, and in-progress claims after the invocation time, bounded on both sides', async () => {
    const prefix = services.newPrefix();
    const config = loadReplayConfig({
      REDIS_URL: testServices().redisUrl,
      REDIS_KEY_PREFIX: prefix,
      ANALYTICS_URL: services.mock.url,
      ANALYTICS_DELIVERY: mode,
      ...(setting !== undefined && { IDEMPOTENCY_TTL_SECONDS: String(setting) }),
    });
    expect(config.IDEMPOTENCY_TTL_SECONDS).toBe(ttl);
    const writes: Write[] = [];
    const delivery = buildDelivery(config, services.redis, {
      log: memoryLog() as unknown as Log,
      wrapCache: (cache) => recording(cache, writes),
    });
    delivery.registerInvocation({ getRemainingTimeInMillis: () => REMAINING_MS });
    const items = ['1', '2', '3'].map((id) => ({ payload: payloadOf(id), hash: '' }));
    for (const item of items) item.hash = payloadHash(item.payload);

    const before = Date.now();
    const outcomes =
      mode === 'batch' && 'deliverMany' in delivery
        ? await delivery.deliverMany(items)
        : await Promise.all(items.map(({ payload, hash }) => delivery.deliver(payload, hash)));
    const after = Date.now();
    expect(outcomes).toEqual(['posted', 'posted', 'posted']);

    // Expiries in seconds are rounded: the bounds allow one second either side of the clock.
    const expiryLow = Math.floor(before / 1000) + ttl - 1;
    const expiryHigh = Math.ceil(after / 1000) + ttl + 1;
    const ttlLow = ttl - Math.ceil((after - before) / 1000) - 2;
    const claims = writes.filter(({ record }) => record.status === 'INPROGRESS');
    const marks = writes.filter(({ record }) => record.status === 'COMPLETED');
    expect(claims).toHaveLength(3);
    expect(marks).toHaveLength(3);
    expect(new Set(marks.map(({ key }) => key))).toEqual(new Set(claims.map(({ key }) => key)));
    for (const { ttl: written, record } of writes) {
      expect(record.expiration).toBeGreaterThanOrEqual(expiryLow);
      expect(record.expiration).toBeLessThanOrEqual(expiryHigh);
      expect(written).toBeGreaterThanOrEqual(ttlLow);
      expect(written).toBeLessThanOrEqual(ttl + 1);
    }
    for (const { record } of claims) {
      expect(record.in_progress_expiration).toBeGreaterThanOrEqual(before + REMAINING_MS);
      expect(record.in_progress_expiration).toBeLessThanOrEqual(after + REMAINING_MS);
    }
    // What Redis holds: the COMPLETED records, each living out the TTL.
    for (const { key } of marks) {
      const stored = JSON.parse((await services.redis.get(key)) ?? '{}') as { expiration?: number };
      expect(stored.expiration).toBeGreaterThanOrEqual(expiryLow);
      expect(stored.expiration).toBeLessThanOrEqual(expiryHigh);
      const left = await services.redis.ttl(key);
      expect(left).toBeGreaterThanOrEqual(ttlLow - Math.ceil((Date.now() - after) / 1000));
      expect(left).toBeLessThanOrEqual(ttl + 1);
    }
  });
});
