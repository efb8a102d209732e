import type { Redis } from 'ioredis';
import type { SyncCheckpoint, SyncStateStore } from '../ports.ts';

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
 * Sync state in the Redis the pipeline already has: per source one string for the cursor and one
 * for the API's sync token (no expiry: losing them means one full re-read, never a missed
 * record), one for the checkpoint of an unfinished run, and one for the lease (taken when free,
 * renewed and released only by its owner).
 * Keys share a hash tag per source, so the run-ending MULTI stays on one cluster slot.
 */
export class RedisSyncState implements SyncStateStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  #key(source: string, what: 'cursor' | 'token' | 'checkpoint' | 'lease'): string {
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

  async readCursor(source: string): Promise<number | null> {
    const value = await this.redis.get(this.#key(source, 'cursor'));
    if (value === null) return null;
    const cursor = Number(value);
    return Number.isFinite(cursor) ? cursor : null;
  }

  async readSyncToken(source: string): Promise<string | null> {
    return this.redis.get(this.#key(source, 'token'));
  }

  async readCheckpoint(source: string): Promise<SyncCheckpoint | null> {
    const value = await this.redis.get(this.#key(source, 'checkpoint'));
    return value === null ? null : (JSON.parse(value) as SyncCheckpoint);
  }

  async saveCheckpoint(source: string, checkpoint: SyncCheckpoint): Promise<void> {
    await this.redis.set(this.#key(source, 'checkpoint'), JSON.stringify(checkpoint));
  }

  async completeRun(source: string, cursor: number | null, syncToken?: string): Promise<void> {
    const multi = this.redis.multi().del(this.#key(source, 'checkpoint'));
    if (cursor !== null) multi.set(this.#key(source, 'cursor'), String(cursor));
    if (syncToken !== undefined) multi.set(this.#key(source, 'token'), syncToken);
    const results = await multi.exec();
    const failed = results?.find(([error]) => error !== null);
    if (results === null || failed) {
      throw failed?.[0] ?? new Error(`Redis discarded the run-ending transaction of ${source}`);
    }
  }

  async clearCheckpoint(source: string): Promise<void> {
    await this.redis.del(this.#key(source, 'checkpoint'));
  }
}
