import type { CacheClient } from '@aws-lambda-powertools/idempotency/cache/types';
import type { Redis } from 'ioredis';

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
 * Lets Powertools' CachePersistenceLayer use ioredis. The layer calls set(key, value, {EX, NX})
 * in the node-redis style and del([keys]); ioredis wants positional arguments.
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

  /** Many reads in few commands (MGET of up to 1,000 keys each), for the batch pre-check. */
  async getMany(names: string[]): Promise<(string | null)[]> {
    const chunks: Promise<(string | null)[]>[] = [];
    for (let from = 0; from < names.length; from += 1000) {
      chunks.push(this.redis.mget(...names.slice(from, from + 1000)));
    }
    return (await Promise.all(chunks)).flat();
  }

  /**
   * Claims many keys in one round trip (a pipeline of SET NX EX), the way the persistence layer
   * claims one: true for each key this call set, false where a record already exists. Fails fast.
   */
  async claimMany(
    records: { key: string; value: string }[],
    ttlSeconds: number,
  ): Promise<boolean[]> {
    if (records.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const { key, value } of records) pipeline.set(key, value, 'EX', ttlSeconds, 'NX');
    return replies(await pipeline.exec()).map((reply) => reply === 'OK');
  }

  /** Writes many records (SET EX) in one round trip, retried through an outage like set(). */
  setMany(records: { key: string; value: string }[], ttlSeconds: number): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return this.#settle(async () => {
      const pipeline = this.redis.pipeline();
      for (const { key, value } of records) pipeline.set(key, value, 'EX', ttlSeconds);
      replies(await pipeline.exec());
    });
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
        if ((error as Error).name === 'ReplyError' || Date.now() + pause > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }
}

/** The replies of a pipeline; throws the first command error (a pipeline never rejects for one). */
function replies(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new Error('Redis pipeline was discarded');
  return results.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}
