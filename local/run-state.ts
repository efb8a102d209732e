import type { Redis } from 'ioredis';
import { connectRedis } from '../shared/adapters/redis.ts';

/** How many keys sit under a prefix and roughly how much memory they take, by kind. */
export type StateFootprint = {
  joinKeys: number;
  deliveredKeys: number;
  otherKeys: number;
  /** Mean MEMORY USAGE of a sample of each kind, in bytes (0 when there is none). */
  bytesPerJoinKey: number;
  bytesPerDeliveredKey: number;
};

async function* keysUnder(redis: Redis, pattern: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (found.length > 0) yield found;
  } while (cursor !== '0');
}

/** Escapes the glob characters of a literal prefix for SCAN MATCH. */
const literal = (prefix: string) => prefix.replace(/[*?[\]\\]/g, '\\$&');

function requirePrefix(prefix: string): void {
  // An empty prefix would match every key of the user's Redis.
  if (prefix === '') throw new Error('refusing to touch Redis keys without a run prefix');
}

/**
 * Deletes every key under the run's prefix (join state and idempotency records), so repeated
 * local runs do not fill the user's Redis. Returns how many were removed.
 */
export async function deleteRunState(
  redisUrl: string,
  prefix: string,
  pattern = '*',
): Promise<number> {
  requirePrefix(prefix);
  const redis = await connectRedis({ url: redisUrl });
  try {
    let removed = 0;
    for await (const keys of keysUnder(redis, literal(prefix) + pattern)) {
      removed += await redis.unlink(...keys);
    }
    return removed;
  } finally {
    redis.disconnect();
  }
}

/** Counts the run's keys by kind and samples their memory use (MEMORY USAGE, 200 of each). */
export async function measureRunState(redisUrl: string, prefix: string): Promise<StateFootprint> {
  requirePrefix(prefix);
  const redis = await connectRedis({ url: redisUrl });
  try {
    const kinds = { join: [] as string[], delivered: [] as string[] };
    const counts = { join: 0, delivered: 0, other: 0 };
    for await (const keys of keysUnder(redis, `${literal(prefix)}*`)) {
      for (const key of keys) {
        const rest = key.slice(prefix.length);
        const kind = rest.startsWith('join:')
          ? 'join'
          : rest.startsWith('delivered')
            ? 'delivered'
            : 'other';
        counts[kind]++;
        if (kind !== 'other' && kinds[kind].length < 200) kinds[kind].push(key);
      }
    }
    const mean = async (keys: string[]) => {
      if (keys.length === 0) return 0;
      const sizes = await Promise.all(keys.map((key) => redis.memory('USAGE', key)));
      return Math.round(sizes.reduce<number>((sum, size) => sum + (size ?? 0), 0) / keys.length);
    };
    return {
      joinKeys: counts.join,
      deliveredKeys: counts.delivered,
      otherKeys: counts.other,
      bytesPerJoinKey: await mean(kinds.join),
      bytesPerDeliveredKey: await mean(kinds.delivered),
    };
  } finally {
    redis.disconnect();
  }
}

/** The server's used_memory, in bytes (INFO memory). */
export async function redisUsedMemory(redisUrl: string): Promise<number> {
  const redis = await connectRedis({ url: redisUrl });
  try {
    const info = await redis.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  } finally {
    redis.disconnect();
  }
}
