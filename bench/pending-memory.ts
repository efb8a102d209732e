import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { table } from '../local/terminal.ts';
import { RedisJoinStore } from '../shared/adapters/redis-join-store.ts';
import { RedisPendingIndex } from '../shared/adapters/redis-pending-index.ts';
import { ownRedisServer } from './own-redis.ts';

/**
 * `npm run bench:pending-memory -- [--ids N] [--url redis://…]`: what a pending id costs in
 * Redis. Writes N ids (default 1,000,000) that hold one side of a two-side join, through the join
 * store's own script (the id's hash with its TTL, and its entries in the two sorted sets of the
 * pending index), then reads INFO used_memory before and after, MEMORY USAGE of the two index
 * keys (every element counted), and MEMORY USAGE of a sample of the hashes.
 *
 * By default on a redis-server of its own (the one on PATH, no persistence, a free port), so
 * that nothing else moves used_memory and a million keys do not slow anyone's SCAN; `--url`
 * measures an existing Redis instead. Every key goes under a prefix of its own and is deleted at
 * the end, also on failure.
 */
const { values } = parseArgs({
  options: {
    ids: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '5000' },
    sample: { type: 'string', default: '1000' },
    url: { type: 'string' },
  },
});
const count = Number(values.ids);
const batch = Number(values.batch);
const sampleSize = Number(values.sample);
for (const [flag, value] of [
  ['--ids', count],
  ['--batch', batch],
  ['--sample', sampleSize],
] as const)
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag} must be a whole number ≥ 1, got ${value}`);

const server = values.url === undefined ? await ownRedisServer() : undefined;
const url = values.url ?? server?.url ?? '';
// No command timeout: MEMORY USAGE of a million-element set and the clean-up take a while.
const redis = new Redis(url, { maxRetriesPerRequest: null });
const join = {
  name: 'bench',
  required: ['customer', 'inventory'],
  sides: ['customer', 'inventory'],
};
const keyPrefix = `bench-pending-mem:${randomUUID().slice(0, 8)}:`;
const store = new RedisJoinStore(redis, { keyPrefix, ttlSeconds: 7 * 86_400, join });
const index = new RedisPendingIndex(redis, { keyPrefix, join });

/** A customer record of the size the mocks serve (about 110 bytes of JSON). */
const customer = (id: string) => ({
  id,
  name: `Customer ${id}`,
  email: `customer${id}@example.com`,
  updatedAt: '2026-11-26T00:00:00.000Z',
});

async function usedMemory(client: Redis): Promise<number> {
  const info = await client.info('memory');
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory line');
  return Number(match[1]);
}

async function memoryUsage(key: string): Promise<number> {
  // SAMPLES 0: every element of a sorted set, not an estimate from the first five.
  return Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
}

async function deleteKeys(): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 5_000);
    cursor = next;
    for (let from = 0; from < keys.length; from += 1_000)
      deleted += await redis.unlink(...keys.slice(from, from + 1_000));
  } while (cursor !== '0');
  return deleted;
}

const started = performance.now();
try {
  const version = /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? '?';
  const before = await usedMemory(redis);
  for (let from = 0; from < count; from += batch) {
    const ids = Array.from({ length: Math.min(batch, count - from) }, (_, i) =>
      String(from + i + 1),
    );
    await store.upsertMany(
      ids.map((id) => ({ id, side: 'customer', record: customer(id), version: 1 })),
    );
    if ((from / batch) % 40 === 0) process.stderr.write(`\r${from + ids.length} ids written…`);
  }
  const writeSeconds = (performance.now() - started) / 1000;
  const after = await usedMemory(redis);
  const stats = await index.stats();
  if (stats.pending !== count)
    throw new Error(`the pending index holds ${stats.pending} ids, ${count} were written`);
  const pendingSet = await memoryUsage(store.keys.pending);
  const dueSet = await memoryUsage(store.keys.due);
  const step = Math.max(1, Math.floor(count / sampleSize));
  let hashBytes = 0;
  let sampled = 0;
  for (let id = 1; id <= count && sampled < sampleSize; id += step) {
    hashBytes += await memoryUsage(store.keys.hash(String(id)));
    sampled++;
  }
  const perHash = hashBytes / sampled;
  const perIndex = (pendingSet + dueSet) / count;
  const growth = after - before;
  process.stderr.write('\n');
  console.log(`Redis ${version} at ${url}${server ? ' (its own, started for this run)' : ''}`);
  console.log(
    table(
      ['figure', 'value'],
      [
        ['pending ids written (one side of two, a 110-byte record each)', count.toLocaleString()],
        ['written in', `${writeSeconds.toFixed(1)} s`],
        ['INFO used_memory growth', `${(growth / 1e6).toFixed(1)} MB`],
        ['  per pending id (hash + index)', `${Math.round(growth / count)} bytes`],
        [
          'MEMORY USAGE of the pending index (2 sorted sets)',
          `${((pendingSet + dueSet) / 1e6).toFixed(1)} MB`,
        ],
        ['  per pending id (index only)', `${perIndex.toFixed(1)} bytes`],
        [`MEMORY USAGE of the id's hash (${sampled} sampled)`, `${perHash.toFixed(1)} bytes`],
      ],
    ),
  );
  console.log(
    `\nThe index adds ${perIndex.toFixed(0)} bytes to the ${perHash.toFixed(0)} bytes the half itself takes: ${(growth / count).toFixed(0)} MB per million pending ids in all.`,
  );
} finally {
  const deleted = await deleteKeys();
  console.log(`Deleted ${deleted} key(s) under ${keyPrefix}`);
  redis.disconnect();
  server?.child.kill('SIGTERM');
}
