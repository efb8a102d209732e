import type { Redis } from 'ioredis';
import { decodeOrigin, encodeOrigin, type JoinState, type RecordOrigin } from '../domain/merge.ts';
import type { SourceRecord } from '../domain/records.ts';
import type { JoinStore, JoinUpsert } from '../ports.ts';

/**
 * One atomic step per record, for a slice of a batch in batch order: store the side unless the
 * stored one is newer (equal versions: the later arrival wins), refresh the TTL, keep the
 * pending index exact (the id is in it while a required side is missing: KEYS[1] by first-seen
 * time; KEYS[2] the same until the policy emitted it), and return each hash's sides and its
 * emitted flag and each side's origin (HMGET of the join's sides, "_e" and "<side>:o"), the side
 * just stored and its origin as "=" (the caller has them: no need to send them back). A side
 * stored without an origin deletes the older side's, so an origin always describes its side.
 * KEYS: pending, due, then the hash of each record. ARGV: ttl seconds, now ms, the number of
 * required sides, the required sides, the number of sides, the sides, then side, record,
 * version, id and origin ("" for none) of each record.
 */
const UPSERT_SIDES_LUA = `
local ttl = tonumber(ARGV[1])
local now = ARGV[2]
local required = tonumber(ARGV[3])
local sideCount = tonumber(ARGV[4 + required])
local fields = {}
local position = {}
for s = 1, sideCount do
  fields[s] = ARGV[4 + required + s]
  position[fields[s]] = s
end
fields[sideCount + 1] = '_e'
for s = 1, sideCount do
  fields[sideCount + 1 + s] = fields[s] .. ':o'
end
local first = 5 + required + sideCount
local states = {}
for i = 3, #KEYS do
  local hash = KEYS[i]
  local at = first + (i - 3) * 5
  local side, record, version, id = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local origin = ARGV[at + 4]
  local versionField = side .. ':v'
  local stored = redis.call('HGET', hash, versionField)
  local applied = (not stored) or tonumber(stored) <= tonumber(version)
  if applied then
    if origin == '' then
      redis.call('HSET', hash, side, record, versionField, version)
      redis.call('HDEL', hash, side .. ':o')
    else
      redis.call('HSET', hash, side, record, versionField, version, side .. ':o', origin)
    end
  end
  if ttl > 0 then
    redis.call('EXPIRE', hash, ttl)
  end
  local complete = true
  for r = 4, 3 + required do
    if redis.call('HEXISTS', hash, ARGV[r]) == 0 then
      complete = false
      break
    end
  end
  if complete then
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
  else
    redis.call('ZADD', KEYS[1], 'NX', now, id)
    if redis.call('HEXISTS', hash, '_e') == 0 then
      redis.call('ZADD', KEYS[2], 'NX', now, id)
    end
  end
  local state = redis.call('HMGET', hash, unpack(fields))
  if applied and position[side] then
    state[position[side]] = '='
    if origin ~= '' then
      state[sideCount + 1 + position[side]] = '='
    end
  end
  states[i - 2] = state
end
return states
`;

/**
 * Records per script call: a 10,000-record batch is 20 calls in one pipeline, so the client
 * builds 20 commands instead of 10,000, and Redis is held by one call for a few milliseconds.
 */
const UPSERT_SLICE = 500;

type JoinCommands = {
  upsertJoinSides(numberOfKeys: number, ...args: (string | number)[]): Promise<(string | null)[][]>;
};

export type RedisJoinOptions = {
  keyPrefix: string;
  ttlSeconds: number;
  /** The join's name (keys of its pending index) and the sides it requires. */
  join: { name: string; required: readonly string[]; sides: readonly string[] };
  /** Clock for first-seen times; Date.now in production. */
  now?: () => number;
};

/** The join state in a hash's flat HGETALL reply: sides and their origins, versions left out. */
export function joinStateOf(flat: readonly string[]): JoinState {
  const state: JoinState = { sides: {}, emitted: false };
  const origins: Record<string, RecordOrigin> = {};
  for (let index = 0; index + 1 < flat.length; index += 2) {
    const field = flat[index] as string;
    if (field === '_e') state.emitted = true;
    else if (field.endsWith(ORIGIN)) {
      const origin = decodeOrigin(flat[index + 1] as string);
      if (origin) origins[field.slice(0, -ORIGIN.length)] = origin;
    } else if (!field.includes(':') && !field.startsWith('_')) {
      state.sides[field] = JSON.parse(flat[index + 1] as string) as SourceRecord;
    }
  }
  if (Object.keys(origins).length > 0) state.origins = origins;
  return state;
}

/** The suffix of the field that keeps a side's origin beside it (`customer:o`). */
const ORIGIN = ':o';

/**
 * The join state in an upsert's reply: each side's record (null: absent; "=": the upsert's own
 * record, which the store kept), then the "_e" flag, then each side's origin (the same way).
 */
function joinStateOfSides(
  sides: readonly string[],
  values: readonly (string | null)[],
  upsert: JoinUpsert,
): JoinState {
  const state: JoinState = { sides: {}, emitted: values[sides.length] != null };
  let origins: Record<string, RecordOrigin> | undefined;
  for (const [index, side] of sides.entries()) {
    const value = values[index];
    if (value === '=') state.sides[side] = upsert.record as SourceRecord;
    else if (value != null) state.sides[side] = JSON.parse(value) as SourceRecord;
    const stored = values[sides.length + 1 + index];
    const origin =
      stored === '=' ? upsert.origin : stored != null ? decodeOrigin(stored) : undefined;
    if (origin) {
      origins ??= {};
      origins[side] = origin;
    }
  }
  if (origins) state.origins = origins;
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
 * pipeline of EVALSHA calls, each for a slice of records in batch order (ioredis loads the
 * script on first use), so a 10,000-record batch costs a few round trips. The script touches the id's hash and the join's two index keys, so
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
    if (!('upsertJoinSides' in redis)) {
      redis.defineCommand('upsertJoinSides', { lua: UPSERT_SIDES_LUA });
    }
  }

  async upsertMany(upserts: JoinUpsert[]): Promise<JoinState[]> {
    if (upserts.length === 0) return [];
    const pipeline = this.redis.pipeline() as unknown as JoinCommands & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    const now = this.#now();
    const { required, sides } = this.options.join;
    for (let from = 0; from < upserts.length; from += UPSERT_SLICE) {
      const slice = upserts.slice(from, from + UPSERT_SLICE);
      const keys = [this.keys.pending, this.keys.due];
      const args: (string | number)[] = [
        this.options.ttlSeconds,
        now,
        required.length,
        ...required,
        sides.length,
        ...sides,
      ];
      for (const upsert of slice) {
        keys.push(this.keys.hash(upsert.id));
        args.push(
          upsert.side,
          JSON.stringify(upsert.record),
          upsert.version,
          upsert.id,
          upsert.origin ? encodeOrigin(upsert.origin) : '',
        );
      }
      pipeline.upsertJoinSides(keys.length, ...keys, ...args);
    }
    const results = await pipeline.exec();
    if (results === null) throw new Error('Redis pipeline was discarded');
    const states: JoinState[] = [];
    for (const [error, reply] of results) {
      if (error) throw error;
      for (const values of reply as (string | null)[][]) {
        states.push(joinStateOfSides(sides, values, upserts[states.length] as JoinUpsert));
      }
    }
    return states;
  }

  keyFor(id: string): string {
    return this.keys.hash(id);
  }
}
