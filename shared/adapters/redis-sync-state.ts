import type { Redis } from 'ioredis';
import type {
  SyncCheckpoint,
  SyncRewind,
  SyncStateAdmin,
  SyncStateStore,
  SyncStateView,
} from '../ports.ts';

/**
 * Takes the lease unless another owner holds it. The owner's own token counts as taken: when a
 * reply is lost and the client sends SET again, the run must not find itself busy.
 */
const ACQUIRE_LUA = `
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;
/** Extends or deletes a key only while it still holds this owner's token. */
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * Ends a run: deletes the checkpoint and any backfill (the run covered it), moves the cursor to
 * the run's value unless the stored one is higher (a backfill never moves it back), saves the
 * token when given. KEYS: checkpoint, backfill, cursor, token. ARGV: cursor ("" for none),
 * token ("" with ARGV[3] = "0" for none), whether a token is given.
 */
const COMPLETE_LUA = `
redis.call('DEL', KEYS[1], KEYS[2])
if ARGV[1] ~= '' then
  local stored = tonumber(redis.call('GET', KEYS[3]))
  if stored == nil or stored < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[3], ARGV[1])
  end
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[4], ARGV[2])
end
return 1
`;
/**
 * An operator's rewind, refused while a run holds the lease (it would overwrite the change when
 * it ends). KEYS: lease, checkpoint, backfill, cursor, token. ARGV: "reset" with what to keep
 * ("none", "cursor" or "token") and its value, or "backfill" with its start ("full" or a number).
 * Returns 1 when done, 0 when a run holds the lease.
 */
const OPERATE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('DEL', KEYS[2], KEYS[3])
if ARGV[1] == 'reset' then
  redis.call('DEL', KEYS[4], KEYS[5])
  if ARGV[2] == 'cursor' then
    redis.call('SET', KEYS[4], ARGV[3])
  elseif ARGV[2] == 'token' then
    redis.call('SET', KEYS[5], ARGV[3])
  end
else
  redis.call('SET', KEYS[3], ARGV[2])
end
return 1
`;

/**
 * Sync state in the Redis the pipeline already has: per source one string for the cursor and one
 * for the API's sync token (no expiry: losing them means one full re-read, never a missed
 * record), one for the checkpoint of an unfinished run, and one for the lease (taken when free,
 * renewed and released only by its owner), and one for a backfill an operator asked for (the
 * next run reads from its start, or everything, and the run that completes deletes it).
 * Keys share a hash tag per source, so each script stays on one cluster slot.
 */
export class RedisSyncState implements SyncStateStore, SyncStateAdmin {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  #key(source: string, what: 'cursor' | 'token' | 'checkpoint' | 'lease' | 'backfill'): string {
    return `${this.keyPrefix}sync:{${source}}:${what}`;
  }

  async acquireLease(source: string, owner: string, ttlMs: number): Promise<boolean> {
    const taken = await this.redis.eval(ACQUIRE_LUA, 1, this.#key(source, 'lease'), owner, ttlMs);
    return taken === 1;
  }

  async renewLease(source: string, owner: string, ttlMs: number): Promise<boolean> {
    const renewed = await this.redis.eval(RENEW_LUA, 1, this.#key(source, 'lease'), owner, ttlMs);
    return renewed === 1;
  }

  async releaseLease(source: string, owner: string): Promise<void> {
    await this.redis.eval(RELEASE_LUA, 1, this.#key(source, 'lease'), owner);
  }

  /** The cursor, or a pending backfill's start when lower (null: a backfill of everything). */
  async readCursor(source: string): Promise<number | null> {
    const [value, backfill] = await this.redis.mget(
      this.#key(source, 'cursor'),
      this.#key(source, 'backfill'),
    );
    const cursor = numberOrNull(value ?? null);
    if (backfill == null || cursor === null) return cursor;
    const from = numberOrNull(backfill);
    return from === null ? null : Math.min(cursor, from);
  }

  /** The sync token, or null while a backfill is pending (a token source's backfill is full). */
  async readSyncToken(source: string): Promise<string | null> {
    const [token, backfill] = await this.redis.mget(
      this.#key(source, 'token'),
      this.#key(source, 'backfill'),
    );
    return backfill == null ? (token ?? null) : null;
  }

  async readCheckpoint(source: string): Promise<SyncCheckpoint | null> {
    const value = await this.redis.get(this.#key(source, 'checkpoint'));
    return value === null ? null : (JSON.parse(value) as SyncCheckpoint);
  }

  async saveCheckpoint(source: string, checkpoint: SyncCheckpoint): Promise<void> {
    await this.redis.set(this.#key(source, 'checkpoint'), JSON.stringify(checkpoint));
  }

  async completeRun(source: string, cursor: number | null, syncToken?: string): Promise<void> {
    await this.redis.eval(
      COMPLETE_LUA,
      4,
      this.#key(source, 'checkpoint'),
      this.#key(source, 'backfill'),
      this.#key(source, 'cursor'),
      this.#key(source, 'token'),
      cursor === null ? '' : String(cursor),
      syncToken ?? '',
      syncToken === undefined ? '0' : '1',
    );
  }

  async clearCheckpoint(source: string): Promise<void> {
    await this.redis.del(this.#key(source, 'checkpoint'));
  }

  async inspect(source: string): Promise<SyncStateView> {
    const lease = this.#key(source, 'lease');
    const [values, owner, ttl] = await Promise.all([
      this.redis.mget(
        this.#key(source, 'cursor'),
        this.#key(source, 'token'),
        this.#key(source, 'checkpoint'),
        this.#key(source, 'backfill'),
      ),
      this.redis.get(lease),
      this.redis.pttl(lease),
    ]);
    const [cursor, token, checkpoint, backfill] = values;
    return {
      cursor: numberOrNull(cursor ?? null),
      syncToken: token ?? null,
      checkpoint: checkpoint == null ? null : (JSON.parse(checkpoint) as SyncCheckpoint),
      lease: owner === null ? null : { owner, expiresInMs: Math.max(0, ttl) },
      backfill: backfill == null ? null : { from: numberOrNull(backfill) },
    };
  }

  async rewind(source: string, to: SyncRewind): Promise<boolean> {
    const args =
      to.kind === 'backfill'
        ? ['backfill', to.from === null ? 'full' : String(to.from)]
        : to.kind === 'cursor'
          ? ['reset', 'cursor', String(to.cursor)]
          : to.kind === 'token'
            ? ['reset', 'token', to.syncToken]
            : ['reset', 'none'];
    const done = await this.redis.eval(
      OPERATE_LUA,
      5,
      this.#key(source, 'lease'),
      this.#key(source, 'checkpoint'),
      this.#key(source, 'backfill'),
      this.#key(source, 'cursor'),
      this.#key(source, 'token'),
      ...args,
    );
    return done === 1;
  }
}

function numberOrNull(value: string | null): number | null {
  if (value === null) return null;
  const number = Number(value);
  return value !== '' && Number.isFinite(number) ? number : null;
}
