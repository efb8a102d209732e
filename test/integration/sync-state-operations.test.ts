import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MockRecord } from '../../local/mocks/dataset.ts';
import { definitionFor, StyledSourceMock } from '../../local/mocks/styled-source.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { RedisSyncState } from '../../shared/adapters/redis-sync-state.ts';
import { createAuthenticator } from '../../shared/adapters/source-auth.ts';
import { HttpSourceReader } from '../../shared/adapters/source-reader.ts';
import type { Log } from '../../shared/logger.ts';
import { parseSourceDefinitions, type SourceDefinition } from '../../shared/sources/definition.ts';
import { fetchSource } from '../../shared/use-cases/fetch-source.ts';
import {
  operateSyncState,
  StateOperationError,
} from '../../shared/use-cases/operate-sync-state.ts';
import { runStateCommand } from '../../tools/state/cli.ts';
import { testServices, uniquePrefix } from '../support/factories.ts';
import { MemorySinks, memoryLog } from '../support/in-memory.ts';

const policy = { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 50, timeoutMs: 5_000 };
let redis: Redis;
const prefixes: string[] = [];
const mocks: StyledSourceMock[] = [];

beforeAll(async () => {
  redis = await connectRedis({ url: testServices().redisUrl });
});
afterEach(async () => {
  await Promise.all(mocks.splice(0).map((mock) => mock.close()));
});
afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
});

function store(): RedisSyncState {
  const prefix = uniquePrefix('state-ops');
  prefixes.push(prefix);
  return new RedisSyncState(redis, prefix);
}

const at = (day: number) => `2025-01-${String(day).padStart(2, '0')}T00:00:00.000Z`;

/** Ten customers, customer n last changed on day n. */
const records = (): MockRecord[] =>
  Array.from({ length: 10 }, (_, i) => ({
    id: String(i + 1),
    name: `Customer ${i + 1}`,
    email: `c${i + 1}@example.com`,
    updatedAt: at(i + 1),
  }));

async function incrementalSource(): Promise<SourceDefinition> {
  const mock = await new StyledSourceMock({
    paging: 'page',
    records: records(),
    changeParam: 'updatedSince',
  }).start();
  mocks.push(mock);
  const [source] = parseSourceDefinitions([
    { name: 'crm', side: 'customer', ...definitionFor(mock, { pageSize: 4 }) },
  ]);
  if (!source) throw new Error('no definition');
  return source;
}

/** One fetch run of the source against the state; the ids it published. */
async function runOnce(source: SourceDefinition, state: RedisSyncState): Promise<string[]> {
  const sinks = new MemorySinks();
  await fetchSource({
    source,
    topic: 'customer_data',
    endpoint: source.url ?? '',
    reader: new HttpSourceReader({
      source,
      policy,
      pageSize: 4,
      auth: createAuthenticator(source.name, source.auth, undefined, policy),
    }),
    publisher: sinks,
    quarantine: sinks,
    log: memoryLog() as unknown as Log,
    correlationId: 'state-ops',
    pageSize: 4,
    maxPages: 100,
    maxRecordBytes: 100_000,
    state,
  });
  return (sinks.published.get('customer_data') ?? []).map((message) => message.key ?? '');
}

describe('npm run state on the Redis the fetch uses', () => {
  it('shows the cursor, the checkpoint of an unfinished run and the lease', async () => {
    const state = store();
    await state.completeRun('crm', Date.parse(at(9)));
    await state.saveCheckpoint('crm', {
      runId: 'run-7',
      mode: 'incremental',
      next: 'http://crm/customers?page=3',
      pages: 2,
      published: 8,
      maxChange: null,
      startedAt: at(10),
    });
    await state.acquireLease('crm', 'run-7', 60_000);
    const source = await incrementalSource();
    const { state: shown, cursorKind } = await operateSyncState(source, { op: 'show' }, state);
    expect(cursorKind).toBe('timestamp');
    expect(shown).toMatchObject({
      cursor: Date.parse(at(9)),
      syncToken: null,
      checkpoint: { runId: 'run-7', pages: 2 },
      lease: { owner: 'run-7' },
      backfill: null,
    });
    expect(shown.lease?.expiresInMs).toBeGreaterThan(0);
  });

  it('resets to nothing: the next run reads the whole source again', async () => {
    const source = await incrementalSource();
    const state = store();
    expect(await runOnce(source, state)).toHaveLength(10);
    // Incremental now: only the boundary record (day 10, within the overlap) is read again.
    expect(await runOnce(source, state)).toEqual(['10']);
    const answer = await operateSyncState(source, { op: 'reset' }, state);
    expect(answer.state).toMatchObject({ cursor: null, checkpoint: null, backfill: null });
    expect(await runOnce(source, state)).toHaveLength(10);
    expect(await state.readCursor('crm')).toBe(Date.parse(at(10)));
  });

  it('resets to a value: the next run reads from it (less the overlap), and the cursor moves on', async () => {
    const source = await incrementalSource();
    const state = store();
    await runOnce(source, state);
    const answer = await operateSyncState(source, { op: 'reset', from: at(7) }, state);
    expect(answer.state.cursor).toBe(Date.parse(at(7)));
    expect(answer.done).toContain('2025-01-07T00:00:00.000Z');
    expect((await runOnce(source, state)).sort()).toEqual(['10', '7', '8', '9']);
    expect(await state.readCursor('crm')).toBe(Date.parse(at(10)));
  });

  it('backfills from a value without moving the cursor back, once', async () => {
    const source = await incrementalSource();
    const state = store();
    await runOnce(source, state);
    const answer = await operateSyncState(source, { op: 'backfill', from: at(3) }, state);
    expect(answer.state).toMatchObject({
      cursor: Date.parse(at(10)),
      backfill: { from: Date.parse(at(3)) },
    });
    expect(await runOnce(source, state)).toHaveLength(8);
    const after = await operateSyncState(source, { op: 'show' }, state);
    expect(after.state).toMatchObject({ cursor: Date.parse(at(10)), backfill: null });
    expect(await runOnce(source, state)).toEqual(['10']);
  });

  it('backfills everything, and a run that ends lower never moves the cursor back', async () => {
    const state = store();
    await state.completeRun('crm', 5_000);
    await state.rewind('crm', { kind: 'backfill', from: null });
    expect(await state.readCursor('crm')).toBeNull();
    await state.completeRun('crm', 4_000);
    expect(await state.inspect('crm')).toMatchObject({ cursor: 5_000, backfill: null });
    await state.rewind('crm', { kind: 'backfill', from: 3_000 });
    expect(await state.readCursor('crm')).toBe(3_000);
  });

  it('refuses to change anything while a run holds the lease', async () => {
    const source = await incrementalSource();
    const state = store();
    await state.completeRun('crm', Date.parse(at(9)));
    await state.acquireLease('crm', 'running', 60_000);
    await expect(operateSyncState(source, { op: 'reset' }, state)).rejects.toThrow(
      /source crm: a run holds the lease \(\d+ s left\); nothing was changed/,
    );
    await expect(operateSyncState(source, { op: 'backfill' }, state)).rejects.toThrow(
      StateOperationError,
    );
    expect(await state.inspect('crm')).toMatchObject({ cursor: Date.parse(at(9)), backfill: null });
  });

  it('names what is wrong with a request, before changing anything', async () => {
    const source = await incrementalSource();
    const state = store();
    await state.completeRun('crm', 1_000);
    const refused = (request: unknown) =>
      operateSyncState(source, request, state).catch((error: Error) => error.message);
    expect(await refused({ op: 'reset', from: 'last tuesday' })).toBe(
      'source crm: --from must be an ISO time like 2026-12-01T00:00:00Z (or epoch ms), got "last tuesday"',
    );
    expect(await refused({ op: 'rewind' })).toMatch(/^state operation: op: /);
    expect(await refused({ op: 'show', from: at(1) })).toBe(
      'state operation: from: show takes no from',
    );
    expect(await refused({ op: 'reset', force: true })).toMatch(/^state operation: /);
    expect((await state.inspect('crm')).cursor).toBe(1_000);
  });

  it("sets a sync token source's token, and backfills it only whole", async () => {
    const [tokenSource] = parseSourceDefinitions([
      {
        name: 'tokens',
        url: 'http://127.0.0.1:9/records',
        syncToken: { path: 'meta.syncToken', param: 'syncToken' },
      },
    ]);
    if (!tokenSource) throw new Error('no definition');
    const state = store();
    const answer = await operateSyncState(tokenSource, { op: 'reset', from: 'tok-42' }, state);
    expect(answer).toMatchObject({ cursorKind: 'token', state: { syncToken: 'tok-42' } });
    await expect(
      operateSyncState(tokenSource, { op: 'backfill', from: 'x' }, state),
    ).rejects.toThrow(/a backfill reads everything \(no --from\)/);
    await operateSyncState(tokenSource, { op: 'backfill' }, state);
    expect(await state.readSyncToken('tokens')).toBeNull();
    await state.completeRun('tokens', null, 'tok-43');
    expect(await state.readSyncToken('tokens')).toBe('tok-43');
  });
});

describe("README's npm run state examples", () => {
  const run = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runStateCommand(argv, {
      print: (line) => out.push(line),
      error: (line) => err.push(line),
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('set and backfill the cursor of examples/incremental.json, which the bundled crm has none of', async () => {
    const prefix = uniquePrefix('state-cli');
    prefixes.push(prefix);
    const file = ['--config', 'examples/incremental.json', '--prefix', prefix];
    const reset = await run([
      'reset',
      '--source',
      'crm',
      '--from',
      '2026-12-01T00:00:00Z',
      ...file,
    ]);
    expect(reset).toMatchObject({ code: 0, err: '' });
    expect(reset.out).toContain('cursor:      2026-12-01T00:00:00.000Z');
    const backfill = await run([
      'backfill',
      '--source',
      'crm',
      '--from',
      '2026-11-01T00:00:00Z',
      ...file,
    ]);
    expect(backfill.out).toContain('backfill:    the next run reads from 2026-11-01T00:00:00.000Z');
    const shown = await run(['show', '--source', 'inventory', ...file]);
    expect(shown).toMatchObject({ code: 0 });
    expect(shown.out).toContain('a timestamp cursor');
    const bundled = await run([
      'reset',
      '--source',
      'crm',
      '--from',
      '2026-12-01T00:00:00Z',
      '--prefix',
      prefix,
    ]);
    expect(bundled).toMatchObject({ code: 1 });
    expect(bundled.err).toMatch(/^source crm declares neither change.param nor syncToken/);
  });
});
