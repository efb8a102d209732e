import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MockRecord } from '../../local/mocks/dataset.ts';
import {
  definitionFor,
  MOCK_CREDENTIALS,
  type MockAuth,
  type MockPaging,
  StyledSourceMock,
  type StyledSourceOptions,
} from '../../local/mocks/styled-source.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { RedisSyncState } from '../../shared/adapters/redis-sync-state.ts';
import { createAuthenticator } from '../../shared/adapters/source-auth.ts';
import { HttpSourceReader } from '../../shared/adapters/source-reader.ts';
import { PaginationError } from '../../shared/errors.ts';
import type { Log } from '../../shared/logger.ts';
import { parseSourceDefinitions, type SourceDefinition } from '../../shared/sources/definition.ts';
import { type FetchDeps, fetchSource } from '../../shared/use-cases/fetch-source.ts';
import { testServices, uniquePrefix } from '../support/factories.ts';
import { MemorySinks, memoryLog } from '../support/in-memory.ts';

const policy = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 50, timeoutMs: 5_000 };
const mocks: StyledSourceMock[] = [];
let redis: Redis;

beforeAll(async () => {
  redis = await connectRedis({ url: testServices().redisUrl });
});
afterAll(() => redis.disconnect());
afterEach(async () => {
  await Promise.all(mocks.splice(0).map((mock) => mock.close()));
});

function records(count: number, updatedAt = '2025-01-01T00:00:00.000Z'): MockRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: String(i + 1),
    name: `Customer ${i + 1}`,
    email: `c${i + 1}@example.com`,
    updatedAt,
    extra: { n: i },
  }));
}

async function aMock(options: StyledSourceOptions): Promise<StyledSourceMock> {
  const mock = await new StyledSourceMock(options).start();
  mocks.push(mock);
  return mock;
}

function sourceFor(mock: StyledSourceMock, pageSize = 7): SourceDefinition {
  const [source] = parseSourceDefinitions([
    {
      name: 'styled',
      side: 'customer',
      required: ['name'],
      ...definitionFor(mock, { pageSize }),
    },
  ]);
  if (!source) throw new Error('no definition');
  return source;
}

/** One fetch invocation of a source, publishing into memory. */
function fetchOnce(source: SourceDefinition, sinks: MemorySinks, extra: Partial<FetchDeps> = {}) {
  const pageSize = 'size' in source.pagination ? (source.pagination.size ?? 7) : 7;
  const auth = createAuthenticator(
    source.name,
    source.auth,
    async () => JSON.stringify(MOCK_CREDENTIALS),
    policy,
  );
  return fetchSource({
    source,
    topic: 'styled_data',
    endpoint: source.url ?? '',
    reader: new HttpSourceReader({ source, policy, pageSize, auth }),
    publisher: sinks,
    quarantine: sinks,
    log: memoryLog() as unknown as Log,
    correlationId: 'test',
    pageSize,
    maxPages: 10_000,
    maxRecordBytes: 100_000,
    ...extra,
  });
}

const publishedIds = (sinks: MemorySinks) =>
  (sinks.published.get('styled_data') ?? []).map((message) => message.key);

describe('every pagination style and auth type', () => {
  const styles: MockPaging[] = ['none', 'page', 'offset', 'cursor', 'link'];
  const auths: MockAuth[] = ['none', 'bearer', 'apiKeyHeader', 'apiKeyQuery', 'basic', 'oauth2'];
  for (const paging of styles) {
    it(`reads all 30 records paged by ${paging}, under each auth type`, async () => {
      for (const auth of auths) {
        const mock = await aMock({ paging, auth, records: records(30) });
        const sinks = new MemorySinks();
        const summary = await fetchOnce(sourceFor(mock), sinks);
        expect({ auth, ids: publishedIds(sinks) }).toEqual({
          auth,
          ids: records(30).map((r) => r.id),
        });
        expect(summary).toMatchObject({ outcome: 'complete', published: 30, quarantined: 0 });
        const value = sinks.published.get('styled_data')?.[3]?.value ?? '';
        expect(JSON.parse(value)).toEqual(records(30)[3]);
      }
    });
  }

  it('refuses a Link rel=next to another host', async () => {
    const mock = await aMock({
      paging: 'link',
      records: records(30),
      foreignLinkOrigin: 'http://elsewhere.example',
    });
    const error = await fetchOnce(sourceFor(mock), new MemorySinks()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PaginationError);
    expect((error as Error).message).toMatch(/another host.*refused/);
  });

  it('renews an OAuth2 token that expires mid-run, once', async () => {
    const mock = await aMock({ paging: 'page', auth: 'oauth2', records: records(30) });
    const sinks = new MemorySinks();
    const publisher = {
      publish: async (topic: string, messages: Parameters<MemorySinks['publish']>[1]) => {
        mock.expireTokens();
        await sinks.publish(topic, messages);
      },
    };
    const summary = await fetchOnce(sourceFor(mock), sinks, { publisher });
    expect(summary.published).toBe(30);
    expect(new Set(publishedIds(sinks)).size).toBe(30);
  });
});

describe('incremental and resumable runs', () => {
  const state = () => new RedisSyncState(redis, uniquePrefix('sync'));

  it('sends the saved cursor less the overlap, and publishes only what changed', async () => {
    const data = records(20, '2025-01-01T00:00:00.000Z');
    const mock = await aMock({ paging: 'cursor', records: data, changeParam: 'updatedSince' });
    const source = sourceFor(mock);
    const store = state();
    const first = await fetchOnce(source, new MemorySinks(), { state: store });
    expect(first).toMatchObject({ mode: 'full', published: 20 });
    expect(await store.readCursor('styled')).toBe(Date.parse('2025-01-01T00:00:00.000Z'));

    const changed = data[4] as MockRecord;
    changed.updatedAt = '2025-01-02T00:00:00.000Z';
    const sinks = new MemorySinks();
    const second = await fetchOnce(source, sinks, { state: store });
    // Overlap of 1 s: the boundary records (equal to the cursor) are read again, none missed.
    expect(second).toMatchObject({ mode: 'incremental', since: '2024-12-31T23:59:59.000Z' });
    expect(publishedIds(sinks)).toContain('5');

    const third = new MemorySinks();
    const after = await fetchOnce(source, third, { state: store });
    expect(after.since).toBe('2025-01-01T23:59:59.000Z');
    expect(publishedIds(third)).toEqual(['5']);

    const full = new MemorySinks();
    expect(await fetchOnce(source, full, { state: store, full: true })).toMatchObject({
      mode: 'full',
      published: 20,
    });
  });

  it("keeps the API's sync token as the cursor: the next run lists only what changed", async () => {
    for (const paging of ['page', 'cursor'] as const) {
      const data = records(20, '2025-01-01T00:00:00.000Z');
      const mock = await aMock({ paging, records: data, syncTokenParam: 'syncToken' });
      const source = sourceFor(mock);
      const store = state();
      const first = await fetchOnce(source, new MemorySinks(), { state: store });
      expect({ paging, ...first }).toMatchObject({ paging, mode: 'full', published: 20, pages: 3 });
      const token = await store.readSyncToken('styled');
      expect(token).not.toBeNull();

      (data[4] as MockRecord).updatedAt = '2025-01-02T00:00:00.000Z';
      (data[11] as MockRecord).updatedAt = '2025-01-03T00:00:00.000Z';
      const sinks = new MemorySinks();
      const second = await fetchOnce(source, sinks, { state: store });
      expect({ paging, ...second }).toMatchObject({ paging, mode: 'incremental', published: 2 });
      expect(publishedIds(sinks)).toEqual(['5', '12']);
      expect(await store.readSyncToken('styled')).not.toBe(token);

      const idle = new MemorySinks();
      expect(await fetchOnce(source, idle, { state: store })).toMatchObject({ published: 0 });
      expect(mock.served).toBe(22);
    }
  });

  it('saves the sync token only when the run ends: a crash between pages leaves the last sync, and nothing unread is skipped', async () => {
    // Every page carries the listing's token, so only the run's end may save it.
    const data = records(20, '2025-01-01T00:00:00.000Z');
    const mock = await aMock({
      paging: 'page',
      records: data,
      syncTokenParam: 'syncToken',
      syncTokenEveryPage: true,
    });
    const source = sourceFor(mock);
    const store = state();
    await fetchOnce(source, new MemorySinks(), { state: store });
    const synced = await store.readSyncToken('styled');
    expect(synced).not.toBeNull();

    // Three records change; the incremental run dies publishing its second page.
    for (const [i, at] of [
      [1, '2025-01-02T00:00:00.000Z'],
      [8, '2025-01-03T00:00:00.000Z'],
      [15, '2025-01-04T00:00:00.000Z'],
    ] as const) {
      (data[i] as MockRecord).updatedAt = at;
    }
    // One change a page: the incremental listing spans three pages.
    const sinks = new MemorySinks();
    let pages = 0;
    const crashing = {
      publish: async (topic: string, messages: Parameters<MemorySinks['publish']>[1]) => {
        if (++pages === 2) throw new Error('crash between pages');
        await sinks.publish(topic, messages);
      },
    };
    await expect(
      fetchOnce(sourceFor(mock, 1), sinks, { state: store, publisher: crashing }),
    ).rejects.toThrow('crash between pages');
    expect(publishedIds(sinks)).toEqual(['2']);
    expect(await store.readSyncToken('styled')).toBe(synced);

    // Even with the checkpoint gone, the next run lists from the last whole sync: the records
    // the crashed run never read are delivered.
    await store.clearCheckpoint('styled');
    const next = new MemorySinks();
    const rerun = await fetchOnce(sourceFor(mock, 1), next, { state: store });
    expect(rerun).toMatchObject({ outcome: 'complete', mode: 'incremental' });
    expect(publishedIds(next)).toEqual(['2', '9', '16']);
    expect(await store.readSyncToken('styled')).not.toBe(synced);
  });

  it('keeps the cursor and the sync token without a TTL (losing one costs a full read, so none is set)', async () => {
    for (const sync of ['cursor', 'token'] as const) {
      const mock = await aMock({
        paging: 'page',
        records: records(10),
        ...(sync === 'cursor' ? { changeParam: 'updatedSince' } : { syncTokenParam: 'syncToken' }),
      });
      const prefix = uniquePrefix('sync');
      const store = new RedisSyncState(redis, prefix);
      expect(await fetchOnce(sourceFor(mock), new MemorySinks(), { state: store })).toMatchObject({
        outcome: 'complete',
      });
      const key = `${prefix}sync:{styled}:${sync}`;
      expect({ sync, value: await redis.get(key) }).toEqual({ sync, value: expect.any(String) });
      // -1: the key exists and has no expiry.
      expect({ sync, ttl: await redis.ttl(key) }).toEqual({ sync, ttl: -1 });
    }
  });

  it('fails on a cursor that repeats, and leaves the cursor where it was', async () => {
    const mock = await aMock({ paging: 'cursor', records: records(30), loopCursor: true });
    const store = state();
    const error = await fetchOnce(sourceFor(mock), new MemorySinks(), { state: store }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PaginationError);
    expect((error as Error).message).toMatch(/repeats/);
    expect(await store.readCursor('styled')).toBeNull();
  });

  it('continues a run after a crash between pages from its checkpoint', async () => {
    const mock = await aMock({ paging: 'page', records: records(30) });
    const source = sourceFor(mock);
    const store = state();
    const sinks = new MemorySinks();
    let pages = 0;
    const crashing = {
      publish: async (topic: string, messages: Parameters<MemorySinks['publish']>[1]) => {
        if (++pages === 3) throw new Error('crash between pages');
        await sinks.publish(topic, messages);
      },
    };
    await expect(fetchOnce(source, sinks, { state: store, publisher: crashing })).rejects.toThrow(
      'crash between pages',
    );
    expect(publishedIds(sinks)).toHaveLength(14);
    const resumed = await fetchOnce(source, sinks, { state: store });
    expect(resumed.outcome).toBe('complete');
    expect(publishedIds(sinks)).toEqual(records(30).map((r) => r.id));
  });

  it('keeps a second run of the same source out while one holds the lease', async () => {
    const mock = await aMock({ paging: 'page', records: records(30) });
    const store = state();
    expect(await store.acquireLease('styled', 'someone-else', 10_000)).toBe(true);
    const summary = await fetchOnce(sourceFor(mock), new MemorySinks(), { state: store });
    expect(summary).toMatchObject({ outcome: 'busy', fetched: 0 });
  });

  it('takes a lease it already holds again (a command resent after a lost reply), never another', async () => {
    const store = state();
    expect(await store.acquireLease('styled', 'run-a', 10_000)).toBe(true);
    expect(await store.acquireLease('styled', 'run-a', 10_000)).toBe(true);
    expect(await store.acquireLease('styled', 'run-b', 10_000)).toBe(false);
    await store.releaseLease('styled', 'run-a');
    expect(await store.acquireLease('styled', 'run-b', 10_000)).toBe(true);
  });

  it('completes a 200,000-record source across short invocations, nothing lost or published twice', async () => {
    const mock = await aMock({ paging: 'offset', records: records(200_000) });
    const source = sourceFor(mock, 1_000);
    const store = state();
    const sinks = new MemorySinks();
    // A virtual clock that moves 10 ms each time it is read (a few reads a page): the limit of
    // 1.5 s per invocation is reached after the same pages on a fast machine as on a slow one.
    let virtualMs = 0;
    const clock = () => (virtualMs += 10);
    let invocations = 0;
    for (;;) {
      invocations++;
      const summary = await fetchOnce(source, sinks, {
        state: store,
        clock,
        stopAt: clock() + 1_500,
      });
      if (summary.outcome === 'complete') break;
      expect(summary.outcome).toBe('paused');
      expect(invocations).toBeLessThan(500);
    }
    const ids = publishedIds(sinks);
    expect(ids).toHaveLength(200_000);
    expect(new Set(ids).size).toBe(200_000);
    // 200 pages of at least 10 virtual ms each cannot fit in one invocation of 1.5 virtual s.
    expect(invocations).toBeGreaterThan(1);
    console.log(`200,000 records in ${invocations} invocations of 1.5 virtual s`);
  });
});
