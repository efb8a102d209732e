import type { Redis } from 'ioredis';
import type { AttemptCounter } from '../use-cases/settle-on-demand.ts';

/**
 * Failed attempts of a batch, in Redis when Redis answers and in this warm container's memory
 * otherwise (a Redis outage must not make a failing batch retry forever).
 */
export class RedisOrMemoryAttemptCounter implements AttemptCounter {
  readonly #memory = new Map<string, number>();

  constructor(
    private readonly redisNow: () => Pick<Redis, 'incr' | 'expire' | 'del'> | undefined,
    private readonly options: { prefix: string; ttlSeconds: number },
  ) {}

  async fail(batchId: string): Promise<number> {
    const inMemory = (this.#memory.get(batchId) ?? 0) + 1;
    this.#memory.set(batchId, inMemory);
    const redis = this.redisNow();
    if (!redis) return inMemory;
    try {
      const key = this.#key(batchId);
      const counted = await redis.incr(key);
      await redis.expire(key, this.options.ttlSeconds);
      return Math.max(counted, inMemory);
    } catch {
      return inMemory;
    }
  }

  async forget(batchId: string): Promise<void> {
    this.#memory.delete(batchId);
    try {
      await this.redisNow()?.del(this.#key(batchId));
    } catch {
      // The key expires on its own.
    }
  }

  #key(batchId: string): string {
    return `${this.options.prefix}attempts:${batchId}`;
  }
}
