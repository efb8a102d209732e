import type { CacheClient } from '@aws-lambda-powertools/idempotency/cache/types';
import { type Redis, ReplyError } from 'ioredis';

/** The option object CachePersistenceLayer passes to set(). */
type SetOptions = { EX?: number; NX?: boolean };

export type CacheClientOptions = {
  /**
   * How long the writes that follow a POST (the COMPLETED record, or the release of a failed
   * one) keep retrying while Redis is unreachable. Giving up early leaves the record in progress
   * until it expires, and the retried batch would POST the payload a second time.
   */
  settleWithinMs?: number;
};

/**
 * Powertools' CacheClient (get, set(key, value, {EX, NX}) in the node-redis style, del([keys]))
 * on ioredis, which wants positional arguments. DeliveryRecords stores the idempotency records
 * through it. Concurrent calls share round trips through ioredis auto-pipelining, so a batch's
 * claims or marks, issued together, go out as a few pipelines.
 *
 * The claim (SET NX) and reads fail fast, so a batch fails before anything is posted. The writes
 * after a POST (SET without NX, DEL) are retried through a Redis outage of up to `settleWithinMs`.
 */
export class IoRedisCacheClient implements CacheClient {
  readonly #settleWithinMs: number;

  constructor(
    private readonly redis: Redis,
    options: CacheClientOptions = {},
  ) {
    this.#settleWithinMs = options.settleWithinMs ?? 30_000;
  }

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
    if (NX) return this.redis.set(key, text, 'NX');
    if (EX !== undefined) return this.#settle(() => this.redis.set(key, text, 'EX', EX));
    return this.#settle(() => this.redis.set(key, text));
  }

  del(keys: string[]): Promise<number> {
    return keys.length === 0 ? Promise.resolve(0) : this.#settle(() => this.redis.del(...keys));
  }

  /** Retries a write that must land while the failure is the connection, not Redis's answer. */
  async #settle<T>(write: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#settleWithinMs;
    for (let pause = 100; ; pause = Math.min(pause * 2, 1000)) {
      try {
        return await write();
      } catch (error) {
        if (error instanceof ReplyError || Date.now() + pause > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }
}
