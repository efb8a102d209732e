import type { CacheClient } from '@aws-lambda-powertools/idempotency/cache/types';
import type { Redis } from 'ioredis';

/** The option object CachePersistenceLayer passes to set(). */
type SetOptions = { EX?: number; NX?: boolean };

/**
 * Lets Powertools' CachePersistenceLayer use ioredis. The layer calls set(key, value, {EX, NX})
 * in the node-redis style and del([keys]); ioredis wants positional arguments.
 */
export class IoRedisCacheClient implements CacheClient {
  constructor(private readonly redis: Redis) {}

  get(name: string): Promise<string | null> {
    return this.redis.get(name);
  }

  async set(name: string | Uint8Array, value: unknown, options?: unknown): Promise<string | null> {
    const key = typeof name === 'string' ? name : Buffer.from(name);
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const { EX, NX } = (options ?? {}) as SetOptions;
    if (EX !== undefined && !(Number.isInteger(EX) && EX > 0)) {
      throw new RangeError(`cache TTL must be a positive whole number of seconds, got ${EX}`);
    }
    if (EX !== undefined && NX) return this.redis.set(key, text, 'EX', EX, 'NX');
    if (EX !== undefined) return this.redis.set(key, text, 'EX', EX);
    if (NX) return this.redis.set(key, text, 'NX');
    return this.redis.set(key, text);
  }

  del(keys: string[]): Promise<number> {
    return keys.length === 0 ? Promise.resolve(0) : this.redis.del(...keys);
  }
}
