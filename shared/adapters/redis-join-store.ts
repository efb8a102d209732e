import type { Redis } from 'ioredis';
import type { JoinState } from '../domain/merge.ts';
import type { SourceRecord } from '../domain/records.ts';
import type { JoinStore, JoinUpsert } from '../ports.ts';

/**
 * One atomic step per record: store the side unless the stored one is newer (equal versions:
 * the later arrival wins), refresh the TTL, and return both sides.
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
return redis.call('HMGET', KEYS[1], 'customer', 'inventory')
`;

type JoinCommands = {
  upsertJoinSide(
    key: string,
    side: string,
    record: string,
    version: number,
    ttlSeconds: number,
  ): Promise<[string | null, string | null]>;
};

/**
 * Join state in Redis: one hash per id. A whole batch goes out as one pipeline of EVALSHA calls
 * (ioredis loads the script on first use), so a 10,000-record batch costs a few round trips.
 */
export class RedisJoinStore implements JoinStore {
  constructor(
    private readonly redis: Redis,
    private readonly options: { keyPrefix: string; ttlSeconds: number },
  ) {
    if (!('upsertJoinSide' in redis)) {
      redis.defineCommand('upsertJoinSide', { numberOfKeys: 1, lua: UPSERT_SIDE_LUA });
    }
  }

  async upsertMany(upserts: JoinUpsert[]): Promise<JoinState[]> {
    if (upserts.length === 0) return [];
    const pipeline = this.redis.pipeline() as unknown as JoinCommands & {
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (const upsert of upserts) {
      pipeline.upsertJoinSide(
        this.keyFor(upsert.id),
        upsert.side,
        JSON.stringify(upsert.record),
        upsert.version,
        this.options.ttlSeconds,
      );
    }
    const results = await pipeline.exec();
    if (results === null) throw new Error('Redis pipeline was discarded');
    return results.map(([error, reply]) => {
      if (error) throw error;
      const [customer, inventory] = reply as [string | null, string | null];
      const state: JoinState = {};
      if (customer !== null) state.customer = JSON.parse(customer) as SourceRecord;
      if (inventory !== null) state.inventory = JSON.parse(inventory) as SourceRecord;
      return state;
    });
  }

  keyFor(id: string): string {
    return `${this.options.keyPrefix}join:{${id}}`;
  }
}
