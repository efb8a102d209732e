import type { Redis } from 'ioredis';
import type { JoinState } from '../domain/merge.ts';
import type { SourceRecord } from '../domain/records.ts';
import type { JoinStore, JoinUpsert } from '../ports.ts';

/**
 * One atomic step per record: store the side unless the stored one is newer (equal versions:
 * the later arrival wins), refresh the TTL, keep the pending index exact (the id is in it while
 * a required side is missing: KEYS[2] by first-seen time; KEYS[3] the same until the policy
 * emitted it), and return every field of the hash.
 * ARGV: side, record, version, ttl seconds, now ms, id, required sides…
 */
const UPSERT_SIDE_LUA = `
local side = ARGV[1]
local versionField = side .. ':v'
local stored = redis.call('HGET', KEYS[1], versionField)
if (not stored) or tonumber(stored) <= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], side, ARGV[2], versionField, ARGV[3])
end
if tonumber(ARGV[4]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
local complete = true
for i = 7, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then
    complete = false
    break
  end
end
if complete then
  redis.call('ZREM', KEYS[2], ARGV[6])
  redis.call('ZREM', KEYS[3], ARGV[6])
else
  redis.call('ZADD', KEYS[2], 'NX', ARGV[5], ARGV[6])
  if redis.call('HEXISTS', KEYS[1], '_e') == 0 then
    redis.call('ZADD', KEYS[3], 'NX', ARGV[5], ARGV[6])
  end
end
return redis.call('HGETALL', KEYS[1])
`;

type JoinCommands = {
  upsertJoinSide(
    hash: string,
    pending: string,
    due: string,
    ...args: (string | number)[]
  ): Promise<string[]>;
};

export type RedisJoinOptions = {
  keyPrefix: string;
  ttlSeconds: number;
  /** The join's name (keys of its pending index) and the sides it requires. */
  join: { name: string; required: readonly string[] };
  /** Clock for first-seen times; Date.now in production. */
  now?: () => number;
};

/** The join state in a hash's flat HGETALL reply: sides by name, versions and flags left out. */
export function joinStateOf(flat: readonly string[]): JoinState {
  const state: JoinState = { sides: {}, emitted: false };
  for (let index = 0; index + 1 < flat.length; index += 2) {
    const field = flat[index] as string;
    if (field === '_e') state.emitted = true;
    else if (!field.includes(':') && !field.startsWith('_')) {
      state.sides[field] = JSON.parse(flat[index + 1] as string) as SourceRecord;
    }
  }
  return state;
}

/** The Redis keys of one join: a hash per id, and the two sorted sets of its pending index. */
export class JoinKeys {
  constructor(
    private readonly keyPrefix: string,
    private readonly joinName: string,
  ) {}
  hash(id: string): string {
    return `${this.keyPrefix}join:{${id}}`;
  }
  /** Every id missing a required side, scored by the time its first side arrived. */
  get pending(): string {
    return `${this.keyPrefix}pending:${this.joinName}`;
  }
  /** The pending ids the missing-side policy has not acted on yet. */
  get due(): string {
    return `${this.keyPrefix}pending-due:${this.joinName}`;
  }
}

/**
 * Join state in Redis: one hash per id, any number of sides. A whole batch goes out as one
 * pipeline of EVALSHA calls (ioredis loads the script on first use), so a 10,000-record batch
 * costs a few round trips. The script touches the id's hash and the join's two index keys, so
 * it needs a Redis that is not in cluster mode (the stack's replication group is not).
 */
export class RedisJoinStore implements JoinStore {
  readonly keys: JoinKeys;
  readonly #now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisJoinOptions,
  ) {
    this.keys = new JoinKeys(options.keyPrefix, options.join.name);
    this.#now = options.now ?? Date.now;
    if (!('upsertJoinSide' in redis)) {
      redis.defineCommand('upsertJoinSide', { numberOfKeys: 3, lua: UPSERT_SIDE_LUA });
    }
  }

  async upsertMany(upserts: JoinUpsert[]): Promise<JoinState[]> {
    if (upserts.length === 0) return [];
    const pipeline = this.redis.pipeline() as unknown as JoinCommands & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    const now = this.#now();
    for (const upsert of upserts) {
      pipeline.upsertJoinSide(
        this.keys.hash(upsert.id),
        this.keys.pending,
        this.keys.due,
        upsert.side,
        JSON.stringify(upsert.record),
        upsert.version,
        this.options.ttlSeconds,
        now,
        upsert.id,
        ...this.options.join.required,
      );
    }
    const results = await pipeline.exec();
    if (results === null) throw new Error('Redis pipeline was discarded');
    return results.map(([error, reply]) => {
      if (error) throw error;
      return joinStateOf(reply as string[]);
    });
  }

  keyFor(id: string): string {
    return this.keys.hash(id);
  }
}
