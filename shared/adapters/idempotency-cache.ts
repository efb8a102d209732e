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

/** Each KEYS[i] set to ARGV[2i-1] with TTL ARGV[2i] unless it exists: 1 where it was set. */
const CLAIM_LUA = `
local claimed = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'EX', ARGV[2 * i], 'NX') then
    claimed[i] = 1
  else
    claimed[i] = 0
  end
end
return claimed`;

/** Each KEYS[i] set to ARGV[2i-1] with TTL ARGV[2i]. */
const WRITE_LUA = `
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'EX', ARGV[2 * i])
end
return #KEYS`;

/** Each KEYS[i] deleted: 1 where it existed. */
const DELETE_LUA = `
local deleted = {}
for i = 1, #KEYS do
  deleted[i] = redis.call('DEL', KEYS[i])
end
return deleted`;

/** Keys per command of a tick's batch: Redis is held a few milliseconds at most by one. */
const KEYS_PER_COMMAND = 1_000;

type RecordCommands = {
  claimRecords(keys: number, ...args: (string | number)[]): Promise<number[]>;
  writeRecords(keys: number, ...args: (string | number)[]): Promise<number>;
  deleteRecords(keys: number, ...args: string[]): Promise<number[]>;
};

/** One record of a bulk write: its key, its stored text and its TTL in whole seconds. */
export type CacheEntry = { key: string; value: string; ttl: number };

/**
 * Powertools' CacheClient (get, set(key, value, {EX, NX}) in the node-redis style, del([keys]))
 * on ioredis, which wants positional arguments. DeliveryRecords stores the idempotency records
 * through it, one record per call.
 *
 * The calls made in one turn of the event loop (a batch's claims, or its marks, issued together)
 * go to Redis as one command per 1,000 keys: a script of SET NX EX (claims), of SET EX (writes)
 * or of DEL, or one MGET (reads). Each call still gets its own answer.
 *
 * The claim (SET NX) and reads fail fast, so a batch fails before anything is posted. The writes
 * after a POST (SET without NX, DEL) are retried through a Redis outage of up to `settleWithinMs`.
 */
export class IoRedisCacheClient implements CacheClient {
  readonly #settleWithinMs: number;
  readonly #commands: RecordCommands;
  readonly #reads: TickBatch<string, string | null>;
  readonly #claims: TickBatch<CacheEntry, string | null>;
  readonly #writes: TickBatch<CacheEntry, string>;
  readonly #deletes: TickBatch<string, number>;

  constructor(
    private readonly redis: Redis,
    options: CacheClientOptions = {},
  ) {
    this.#settleWithinMs = options.settleWithinMs ?? 30_000;
    if (!('claimRecords' in redis)) {
      redis.defineCommand('claimRecords', { lua: CLAIM_LUA });
      redis.defineCommand('writeRecords', { lua: WRITE_LUA });
      redis.defineCommand('deleteRecords', { lua: DELETE_LUA });
    }
    this.#commands = redis as unknown as RecordCommands;
    this.#reads = new TickBatch((keys) => inSlices(keys, (slice) => this.redis.mget(...slice)));
    this.#claims = new TickBatch((entries) => this.#claimAll(entries));
    this.#writes = new TickBatch((entries) => this.#writeAll(entries));
    this.#deletes = new TickBatch((keys) =>
      this.#settle(() =>
        inSlices(keys, (slice) => this.#commands.deleteRecords(slice.length, ...slice)),
      ),
    );
  }

  get(name: string): Promise<string | null> {
    return this.#reads.add(name);
  }

  async set(name: string | Uint8Array, value: unknown, options?: unknown): Promise<string | null> {
    const key = typeof name === 'string' ? name : Buffer.from(name);
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const { EX, NX } = (options ?? {}) as SetOptions;
    if (EX !== undefined) checkTtl(EX);
    if (typeof key === 'string' && EX !== undefined) {
      return NX
        ? this.#claims.add({ key, value: text, ttl: EX })
        : this.#writes.add({ key, value: text, ttl: EX });
    }
    if (EX !== undefined && NX) return this.redis.set(key, text, 'EX', EX, 'NX');
    if (NX) return this.redis.set(key, text, 'NX');
    if (EX !== undefined) return this.#settle(() => this.redis.set(key, text, 'EX', EX));
    return this.#settle(() => this.redis.set(key, text));
  }

  /**
   * Many records in one call, for a whole part of a batch (DeliveryRecords' bulk claims and
   * marks): `SET key value EX ttl` each, with `NX` when `options.NX`, as one command per 1,000
   * keys and without a promise per record. Resolves with 'OK' where a key was set and null where
   * `NX` found one. Claims fail fast; writes retry through an outage as set() does. A failure
   * rejects the whole call.
   */
  async setMany(
    entries: readonly CacheEntry[],
    options: { NX?: boolean } = {},
  ): Promise<(string | null)[]> {
    for (const { ttl } of entries) checkTtl(ttl);
    return options.NX ? this.#claimAll(entries) : this.#writeAll(entries);
  }

  /** SET NX EX of each entry, one script per 1,000 keys: 'OK' where set, null where taken. */
  #claimAll(entries: readonly CacheEntry[]): Promise<(string | null)[]> {
    return inSlices(entries, async (slice) => {
      const claimed = await this.#commands.claimRecords(slice.length, ...keysAndValues(slice));
      return claimed.map((won): string | null => (won === 1 ? 'OK' : null));
    });
  }

  /** SET EX of each entry, one script per 1,000 keys, retried through an outage. */
  #writeAll(entries: readonly CacheEntry[]): Promise<string[]> {
    return this.#settle(() =>
      inSlices(entries, async (slice) => {
        await this.#commands.writeRecords(slice.length, ...keysAndValues(slice));
        return slice.map((): string => 'OK');
      }),
    );
  }

  async del(keys: string[]): Promise<number> {
    const deleted = await Promise.all(keys.map((key) => this.#deletes.add(key)));
    return deleted.reduce((sum, one) => sum + one, 0);
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

/**
 * Collects the calls made in one turn of the event loop and runs them as one batch (flushed by
 * setImmediate, after the turn's promise callbacks); each call gets its own result, or the
 * batch's error.
 */
class TickBatch<In, Out> {
  #pending: { input: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[] = [];

  constructor(private readonly run: (inputs: In[]) => Promise<Out[]>) {}

  add(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      if (this.#pending.length === 0) setImmediate(() => void this.#flush());
      this.#pending.push({ input, resolve, reject });
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    try {
      const outputs = await this.run(batch.map(({ input }) => input));
      for (const [index, { resolve }] of batch.entries()) resolve(outputs[index] as Out);
    } catch (error) {
      for (const { reject } of batch) reject(error);
    }
  }
}

/** Runs `command` on slices of at most KEYS_PER_COMMAND items (concurrently), results in order. */
async function inSlices<In, Out>(
  items: readonly In[],
  command: (slice: In[]) => Promise<Out[]>,
): Promise<Out[]> {
  const slices: Promise<Out[]>[] = [];
  for (let from = 0; from < items.length; from += KEYS_PER_COMMAND) {
    slices.push(command(items.slice(from, from + KEYS_PER_COMMAND)));
  }
  return (await Promise.all(slices)).flat();
}

/** A script's arguments: the keys, then value and TTL of each. */
function keysAndValues(entries: readonly CacheEntry[]): (string | number)[] {
  const args: (string | number)[] = entries.map(({ key }) => key);
  for (const { value, ttl } of entries) args.push(value, ttl);
  return args;
}

function checkTtl(ttl: number): void {
  if (!(Number.isInteger(ttl) && ttl > 0)) {
    throw new RangeError(`cache TTL must be a positive whole number of seconds, got ${ttl}`);
  }
}
