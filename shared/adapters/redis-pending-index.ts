import type { Redis } from 'ioredis';
import type { PendingEntry, PendingIndex, PendingListing, PendingLook } from '../ports.ts';
import { JoinKeys, joinStateOf } from './redis-join-store.ts';

/** Shared head of the scripts: `complete` says whether every required side (ARGV[n..]) is there. */
const COMPLETE = (from: number) => `
local complete = true
for i = ${from}, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then
    complete = false
    break
  end
end`;

/** KEYS: hash, pending, due. ARGV: id, required… Returns {status, firstSeen, fields}. */
const LOOK_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return {'gone'}
end
${COMPLETE(2)}
if complete then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return {'complete'}
end
return {'pending', redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0', redis.call('HGETALL', KEYS[1])}
`;

/** KEYS: hash, due. ARGV: id. */
const MARK_EMITTED_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], '_e', '1')
end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;

/** KEYS: hash, pending, due. ARGV: id, cutoff ms, required… Returns 1 when dropped. */
const DROP_LUA = `
local gone = redis.call('EXISTS', KEYS[1]) == 0
${COMPLETE(3)}
if gone or complete then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
local firstSeen = redis.call('ZSCORE', KEYS[2], ARGV[1])
if firstSeen and tonumber(firstSeen) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 1
end
return 0
`;

/**
 * KEYS: hash, pending, due. ARGV: id, required… Removes the id from the index when its join
 * state is gone (expired after JOIN_TTL_SECONDS) or complete; returns 1 then.
 */
const PRUNE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  ${COMPLETE(2)}
  if not complete then
    return 0
  end
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
`;

type IndexCommands = {
  prunePending(hash: string, pending: string, due: string, ...args: string[]): Promise<number>;
  lookPending(hash: string, pending: string, due: string, ...args: string[]): Promise<unknown[]>;
  markPendingEmitted(hash: string, due: string, id: string): Promise<number>;
  dropPending(hash: string, pending: string, due: string, ...args: string[]): Promise<number>;
};

/**
 * The pending index in Redis: two sorted sets per join (every pending id by first-seen time,
 * and those the policy has not acted on), kept by the join store's upsert script; the sweeper's
 * steps are scripts of their own, atomic per id.
 */
export class RedisPendingIndex implements PendingIndex {
  readonly keys: JoinKeys;
  readonly #redis: Redis & IndexCommands;

  constructor(
    redis: Redis,
    private readonly options: {
      keyPrefix: string;
      join: { name: string; required: readonly string[] };
    },
  ) {
    this.keys = new JoinKeys(options.keyPrefix, options.join.name);
    if (!('lookPending' in redis)) {
      redis.defineCommand('lookPending', { numberOfKeys: 3, lua: LOOK_LUA });
      redis.defineCommand('markPendingEmitted', { numberOfKeys: 2, lua: MARK_EMITTED_LUA });
      redis.defineCommand('dropPending', { numberOfKeys: 3, lua: DROP_LUA });
      redis.defineCommand('prunePending', { numberOfKeys: 3, lua: PRUNE_LUA });
    }
    this.#redis = redis as Redis & IndexCommands;
  }

  async due(cutoffMs: number, limit: number): Promise<PendingEntry[]> {
    const flat = await this.#redis.zrangebyscore(
      this.keys.due,
      '-inf',
      String(cutoffMs),
      'WITHSCORES',
      'LIMIT',
      0,
      limit,
    );
    return pairs(flat);
  }

  async look(id: string): Promise<PendingLook> {
    const reply = await this.#redis.lookPending(
      this.keys.hash(id),
      this.keys.pending,
      this.keys.due,
      id,
      ...this.options.join.required,
    );
    const status = reply[0] as string;
    if (status === 'gone' || status === 'complete') return { status };
    return {
      status: 'pending',
      firstSeenMs: Number(reply[1]),
      state: joinStateOf(reply[2] as string[]),
    };
  }

  async markEmitted(id: string): Promise<void> {
    await this.#redis.markPendingEmitted(this.keys.hash(id), this.keys.due, id);
  }

  async drop(id: string, cutoffMs: number): Promise<boolean> {
    const dropped = await this.#redis.dropPending(
      this.keys.hash(id),
      this.keys.pending,
      this.keys.due,
      id,
      String(cutoffMs),
      ...this.options.join.required,
    );
    return dropped === 1;
  }

  /**
   * Looks at up to `limit` ids of the index, half the oldest and half a window that moves on at
   * each call (its start kept in `<pending>:prune-at`), so every id is looked at in turn even
   * behind old ids that stay pending; removes those whose state expired or completed.
   */
  async prune(limit: number): Promise<number> {
    const half = Math.max(1, Math.floor(limit / 2));
    const cursorKey = `${this.keys.pending}:prune-at`;
    const at = Number(await this.#redis.get(cursorKey)) || 0;
    const [oldest, window] = await Promise.all([
      this.#redis.zrange(this.keys.pending, '0', String(half - 1)),
      this.#redis.zrange(this.keys.pending, String(at), String(at + half - 1)),
    ]);
    const ids = [...new Set([...oldest, ...window])];
    const removed = await Promise.all(
      ids.map((id) =>
        this.#redis.prunePending(
          this.keys.hash(id),
          this.keys.pending,
          this.keys.due,
          id,
          ...this.options.join.required,
        ),
      ),
    );
    const gone = new Set(ids.filter((_, index) => removed[index] === 1));
    // The window moves past what it kept; removed ids shift the later ones down by as many.
    const kept = window.filter((id) => !gone.has(id)).length;
    await this.#redis.set(cursorKey, String(window.length < half ? 0 : at + kept));
    return gone.size;
  }

  async stats(): Promise<{ pending: number; oldestFirstSeenMs: number | null }> {
    const [pending, oldest] = await Promise.all([
      this.#redis.zcard(this.keys.pending),
      this.#redis.zrange(this.keys.pending, '0', '0', 'WITHSCORES'),
    ]);
    return { pending, oldestFirstSeenMs: oldest[1] === undefined ? null : Number(oldest[1]) };
  }

  async list(limit: number): Promise<PendingListing[]> {
    const entries = pairs(
      await this.#redis.zrange(this.keys.pending, '0', String(limit - 1), 'WITHSCORES'),
    );
    const pipeline = this.#redis.pipeline();
    for (const entry of entries) pipeline.hkeys(this.keys.hash(entry.id));
    const replies = (await pipeline.exec()) ?? [];
    return entries.map((entry, index) => {
      const [error, fields] = replies[index] ?? [null, []];
      if (error) throw error;
      const names = fields as string[];
      return {
        ...entry,
        sides: names.filter((field) => !field.includes(':') && !field.startsWith('_')),
        emitted: names.includes('_e'),
      };
    });
  }
}

function pairs(flat: string[]): PendingEntry[] {
  const entries: PendingEntry[] = [];
  for (let index = 0; index + 1 < flat.length; index += 2) {
    entries.push({ id: flat[index] as string, firstSeenMs: Number(flat[index + 1]) });
  }
  return entries;
}
