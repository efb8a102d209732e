import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { AnalyticsMock } from '../../local/mocks/analytics-mock.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { testServices, uniquePrefix } from './factories.ts';

/**
 * What a delivery test file runs against: the real Redis for the whole file (the keys under the
 * prefixes `newPrefix()` handed out are removed at its end) and a fresh Analytics mock per test
 * (the mock remembers the event ids it processed).
 */
export function deliveryServices(label: string) {
  let redis: Redis | undefined;
  let mock: AnalyticsMock | undefined;
  const prefixes: string[] = [];
  beforeAll(async () => {
    redis = await connectRedis({ url: testServices().redisUrl });
  });
  beforeEach(async () => {
    mock = await new AnalyticsMock().start();
  });
  afterEach(async () => {
    await mock?.close();
  });
  afterAll(async () => {
    if (!redis) return;
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
  });
  return {
    get redis(): Redis {
      if (!redis) throw new Error('Redis is connected in beforeAll');
      return redis;
    },
    get mock(): AnalyticsMock {
      if (!mock) throw new Error('the Analytics mock starts in beforeEach');
      return mock;
    },
    newPrefix(): string {
      const prefix = uniquePrefix(label);
      prefixes.push(prefix);
      return prefix;
    },
  };
}
