import { describe, expect, it } from 'vitest';
import { PaginationError, SourceHttpError } from '../../shared/errors.ts';
import type { Log } from '../../shared/logger.ts';
import { parseSourceDefinitions, type SourceDefinition } from '../../shared/sources/definition.ts';
import { type FetchDeps, fetchSource } from '../../shared/use-cases/fetch-source.ts';
import { aCustomer } from '../support/factories.ts';
import {
  MemorySinks,
  MemorySourceReader,
  MemorySyncState,
  memoryLog,
} from '../support/in-memory.ts';

/** fetchSource with sync state: cursor, checkpoint and lease. */

const ENDPOINT = 'http://crm.test/customers';
const at = (day: number) => new Date(Date.UTC(2025, 0, day)).toISOString();

function define(pagination: object, overlap = 0): SourceDefinition {
  const [source] = parseSourceDefinitions([
    {
      name: 'crm',
      side: 'customer',
      url: ENDPOINT,
      records: 'items',
      required: [{ path: 'email', type: 'string' }],
      change: { path: 'updatedAt', param: 'updatedSince', overlap },
      pagination,
    },
  ]);
  if (!source) throw new Error('no source');
  return source;
}
const PAGED = define({ style: 'page', next: 'nextPage' });

/**
 * A CRM in memory, two records a page by page number. It answers `updatedSince` with the records
 * changed at or after it, unless `ignoresSince` (then it sends everything).
 */
class Crm {
  records = [1, 2, 3, 4, 5].map((n) => aCustomer(String(n), { updatedAt: at(n) }));
  ignoresSince = false;
  failPage: number | undefined;
  onRead: (page: number) => void = () => {};

  answer = (url: URL): string | Error => {
    const page = Number(url.searchParams.get('page'));
    this.onRead(page);
    if (page === this.failPage) return new SourceHttpError(url.toString(), 503, 5, 'HTTP 503');
    const since = url.searchParams.get('updatedSince');
    const listed = this.records.filter(
      (r) =>
        this.ignoresSince || since === null || Date.parse(r.updatedAt ?? '') >= Date.parse(since),
    );
    const items = listed.slice((page - 1) * 2, page * 2);
    return JSON.stringify({ items, nextPage: listed.length > page * 2 ? page + 1 : null });
  };
}

function setup(state = new MemorySyncState(), crm = new Crm(), source = PAGED) {
  const sinks = new MemorySinks();
  const log = memoryLog();
  const reader = new MemorySourceReader(source, 2, crm.answer);
  const run = (options: Partial<FetchDeps> = {}) =>
    fetchSource({
      source,
      topic: 'customer_data',
      endpoint: ENDPOINT,
      reader,
      publisher: sinks,
      quarantine: sinks,
      log: log as unknown as Log,
      correlationId: 'run-1',
      pageSize: 2,
      maxPages: 100,
      maxRecordBytes: 10_000,
      state,
      ...options,
    });
  const ids = () => (sinks.published.get('customer_data') ?? []).map((m) => m.key);
  return { state, crm, sinks, log, read: reader.read, run, ids };
}
const pageUrl = (page: number, since?: string) =>
  `${ENDPOINT}?page=${page}&pageSize=2${since ? `&updatedSince=${encodeURIComponent(since)}` : ''}`;

describe('fetchSource with sync state', () => {
  it('after a complete run, moves the cursor to the highest change value published and drops the checkpoint', async () => {
    const { state, crm, run, ids } = setup();
    crm.records[0] = aCustomer('1', { updatedAt: at(9) }); // the highest is not the last
    const summary = await run();
    expect(summary).toMatchObject({ outcome: 'complete', mode: 'full', published: 5, pages: 3 });
    expect(ids()).toEqual(['1', '2', '3', '4', '5']);
    expect(state.saved.map((checkpoint) => checkpoint.next)).toEqual([pageUrl(2), pageUrl(3)]);
    expect(await state.readCursor('crm')).toBe(Date.parse(at(9)));
    expect(await state.readCheckpoint('crm')).toBeNull();
    expect(state.leases.size).toBe(0);
  });

  it('leaves the cursor where it was when a run fails part-way, with the checkpoint at the failed page', async () => {
    const { state, crm, run, ids } = setup();
    state.cursors.set('crm', Date.parse(at(2)));
    crm.records.push(aCustomer('6', { updatedAt: at(10) }), aCustomer('7', { updatedAt: at(11) }));
    crm.failPage = 3;
    await expect(run()).rejects.toBeInstanceOf(SourceHttpError);
    expect(ids()).toEqual(['2', '3', '4', '5']);
    expect(await state.readCursor('crm')).toBe(Date.parse(at(2)));
    expect(await state.readCheckpoint('crm')).toMatchObject({
      mode: 'incremental',
      next: pageUrl(3, at(2)),
      pages: 2,
      published: 4,
    });
    expect(state.leases.size).toBe(0);
  });

  it('publishes records whose change value equals the cursor, and skips older ones as unchanged', async () => {
    const { state, crm, run, ids, read } = setup();
    crm.ignoresSince = true; // the threshold is applied by the pipeline as well
    state.cursors.set('crm', Date.parse(at(3)));
    const summary = await run();
    expect(read[0]).toBe(pageUrl(1, at(3)));
    expect(summary).toMatchObject({
      mode: 'incremental',
      since: at(3),
      fetched: 5,
      published: 3,
      unchanged: 2,
    });
    expect(ids()).toEqual(['3', '4', '5']);
    expect(await state.readCursor('crm')).toBe(Date.parse(at(5)));
  });

  it('pauses at a page boundary when its time is up, and the next run continues without re-publishing', async () => {
    const { state, run, ids, read, log } = setup();
    // A deadline already passed: the first page is read, no other is started.
    const paused = await run({ stopAt: Date.now() });
    expect(paused).toMatchObject({ outcome: 'paused', pages: 1, published: 2 });
    expect(read).toEqual([pageUrl(1)]);
    expect(await state.readCursor('crm')).toBeNull();
    const checkpoint = await state.readCheckpoint('crm');
    expect(checkpoint).toMatchObject({ runId: 'run-1', mode: 'full', next: pageUrl(2) });
    expect(checkpoint).toMatchObject({ pages: 1, published: 2, maxChange: Date.parse(at(2)) });
    expect(state.leases.size).toBe(0);

    const resumed = await run({ correlationId: 'run-2' });
    expect(resumed).toMatchObject({ outcome: 'complete', mode: 'full', pages: 2, published: 3 });
    expect(read).toEqual([pageUrl(1), pageUrl(2), pageUrl(3)]);
    expect(ids()).toEqual(['1', '2', '3', '4', '5']);
    expect(await state.readCursor('crm')).toBe(Date.parse(at(5)));
    expect(await state.readCheckpoint('crm')).toBeNull();
    expect(log.lines.filter((line) => line.message === 'continuing a paused run')).toHaveLength(1);
  });

  it('starts over from the first page when a full run is asked while an incremental one is paused', async () => {
    const { state, run, ids, read } = setup();
    state.cursors.set('crm', Date.parse(at(1)));
    expect(await run({ stopAt: Date.now() })).toMatchObject({
      outcome: 'paused',
      mode: 'incremental',
    });
    const full = await run({ full: true });
    expect(full).toMatchObject({ outcome: 'complete', mode: 'full', published: 5, pages: 3 });
    expect(read).toEqual([pageUrl(1, at(1)), pageUrl(1), pageUrl(2), pageUrl(3)]);
    expect(ids()).toEqual(['1', '2', '1', '2', '3', '4', '5']);
    expect(await state.readCheckpoint('crm')).toBeNull();
  });

  it('is busy, reading nothing, while another run holds the lease', async () => {
    const { state, run, read, ids, log } = setup();
    expect(await state.acquireLease('crm', 'other-run', 60_000)).toBe(true);
    const summary = await run();
    expect(summary).toMatchObject({ outcome: 'busy', fetched: 0, published: 0, pages: 0 });
    expect(read).toEqual([]);
    expect(ids()).toEqual([]);
    expect(state.leases.get('crm')?.owner).toBe('other-run');
    expect(log.lines.filter((line) => line.level === 'warn')).toHaveLength(1);
  });

  it('fails when another run takes the lease mid-run, without moving the cursor', async () => {
    const { state, crm, run } = setup();
    crm.onRead = (page) => {
      if (page === 2) state.leases.set('crm', { owner: 'thief', expires: Date.now() + 60_000 });
    };
    await expect(run()).rejects.toThrow(/the lease was lost to another run/);
    expect(await state.readCursor('crm')).toBeNull();
    expect(state.leases.get('crm')?.owner).toBe('thief');
  });

  it('fails on a next-page URL that repeats an earlier one, without moving the cursor or reading on', async () => {
    const cursorSource = define({ style: 'cursor', next: 'next' });
    const tokens: Record<string, string> = { '': 'a', a: 'b', b: 'a' }; // a -> b -> a
    const crm = new Crm();
    crm.answer = (url) => {
      const token = url.searchParams.get('cursor') ?? '';
      return JSON.stringify({ items: [aCustomer(token || 'first')], next: tokens[token] });
    };
    const { state, sinks, run, read, ids } = setup(new MemorySyncState(), crm, cursorSource);
    state.cursors.set('crm', 7);
    const error = await run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PaginationError);
    expect((error as Error).message).toContain(`the next page repeats ${ENDPOINT}?updatedSince=`);
    expect(read).toHaveLength(3);
    expect(ids()).toEqual(['first', 'a']);
    expect(sinks.quarantined).toEqual([]);
    expect(await state.readCursor('crm')).toBe(7);
  });

  it('saves and logs page URLs with the secret the reader redacts taken out', async () => {
    const crm = new Crm();
    const reader = new MemorySourceReader(PAGED, 2, crm.answer, 'key');
    const { state, log, run } = setup(new MemorySyncState(), crm);
    await run({ reader, endpoint: `${ENDPOINT}?key=s3cret`, stopAt: Date.now() });
    expect(reader.read).toEqual([`${ENDPOINT}?page=1&pageSize=2`]);
    expect((await state.readCheckpoint('crm'))?.next).toBe(pageUrl(2));
    expect(JSON.stringify(log.lines)).not.toContain('s3cret');
  });

  it('a run whose state cannot be written fails with that error, leaves the cursor, and the next run continues once its lease lapses', async () => {
    // The lease expires by a clock of the test's own, so "busy" and "lapsed" do not race timers.
    let virtualMs = 0;
    const { state, crm, run, ids } = setup(new MemorySyncState(() => virtualMs));
    state.cursors.set('crm', Date.parse(at(1)));
    crm.records.push(aCustomer('6', { updatedAt: at(10) }), aCustomer('7', { updatedAt: at(11) }));
    // Redis goes away after the first checkpoint: the second is not written, nor the release.
    const save = state.saveCheckpoint.bind(state);
    const release = state.releaseLease.bind(state);
    let saves = 0;
    state.saveCheckpoint = async (source, checkpoint) => {
      if (++saves === 2) throw new Error('Redis unreachable');
      return save(source, checkpoint);
    };
    state.releaseLease = async () => {
      throw new Error('Redis unreachable (release)');
    };
    await expect(run({ leaseMs: 1_000 })).rejects.toThrow(/^Redis unreachable$/);
    expect(ids()).toEqual(['1', '2', '3', '4']);
    expect(await state.readCursor('crm')).toBe(Date.parse(at(1)));
    expect((await state.readCheckpoint('crm'))?.next).toBe(pageUrl(2, at(1)));

    state.saveCheckpoint = save;
    state.releaseLease = release;
    // The failed run's lease is still there: the next run is busy and reads nothing…
    expect(await run({ leaseMs: 1_000 })).toMatchObject({ outcome: 'busy', fetched: 0 });
    // …until it lapses; then the run continues from the checkpoint, re-reading the page whose
    // checkpoint was not written, and nothing is missed.
    virtualMs += 1_001;
    const next = await run({ leaseMs: 1_000 });
    expect(next).toMatchObject({ outcome: 'complete', mode: 'incremental' });
    expect(ids()).toEqual(['1', '2', '3', '4', '3', '4', '5', '6', '7']);
    expect(await state.readCursor('crm')).toBe(Date.parse(at(11)));
    expect(state.leases.size).toBe(0);
  });

  it('does not fail a complete run whose lease cannot be released, and warns', async () => {
    const { state, run, log } = setup();
    state.releaseLease = async () => {
      throw new Error('Redis unreachable');
    };
    expect(await run()).toMatchObject({ outcome: 'complete', published: 5 });
    expect(await state.readCursor('crm')).toBe(Date.parse(at(5)));
    expect(log.lines.map((line) => line.message)).toContain(
      'could not release the lease; it lapses by itself',
    );
  });

  it('keeps its lease through a page slower than the lease, renewing it on a timer', async () => {
    const { state, crm, run } = setup();
    const reader = new MemorySourceReader(PAGED, 2, crm.answer);
    const read = reader.readPage.bind(reader);
    let taken: boolean | undefined;
    reader.readPage = async (url) => {
      if (new URL(url).searchParams.get('page') === '2') {
        // Page 2 takes 1 s, over three times the lease; another run tries at 0.8 s. (Renewed
        // every 100 ms, the lease lapses only if the timers fall 200 ms behind.)
        await new Promise((resolve) => setTimeout(resolve, 800));
        taken = await state.acquireLease('crm', 'other-run', 60_000);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return read(url);
    };
    expect(await run({ reader, leaseMs: 300 })).toMatchObject({ outcome: 'complete' });
    expect(taken).toBe(false);
  });
});

describe("fetchSource with the API's sync token as the cursor", () => {
  const TOKENED = (() => {
    const [source] = parseSourceDefinitions([
      {
        name: 'crm',
        side: 'customer',
        url: ENDPOINT,
        records: 'items',
        required: [{ path: 'email', type: 'string' }],
        syncToken: { path: 'sync', param: 'syncToken' },
        pagination: { style: 'page', next: 'nextPage' },
      },
    ]);
    if (!source) throw new Error('no source');
    return source;
  })();

  /** Records with a revision; the last page's token is the newest revision; sent back, it lists later ones. */
  class TokenCrm extends Crm {
    revisions = new Map(this.records.map((r, i) => [r.id, i + 1]));
    override answer = (url: URL): string | Error => {
      const page = Number(url.searchParams.get('page'));
      this.onRead(page);
      if (page === this.failPage) return new SourceHttpError(url.toString(), 503, 5, 'HTTP 503');
      const after = Number(url.searchParams.get('syncToken') ?? 0);
      const listed = this.records.filter((r) => (this.revisions.get(r.id) ?? 0) > after);
      const items = listed.slice((page - 1) * 2, page * 2);
      const last = listed.length <= page * 2;
      const newest = Math.max(after, ...this.revisions.values());
      return JSON.stringify({
        items,
        nextPage: last ? null : page + 1,
        sync: last ? `${newest}` : null,
      });
    };
    change(id: string) {
      this.revisions.set(id, Math.max(...this.revisions.values()) + 1);
    }
  }
  const tokenUrl = (page: number, token?: string) =>
    `${ENDPOINT}?page=${page}&pageSize=2${token ? `&syncToken=${token}` : ''}`;

  it("saves the last page's token after the run, and the next run lists only what changed", async () => {
    const crm = new TokenCrm();
    const { state, run, ids, read } = setup(new MemorySyncState(), crm, TOKENED);
    expect(await run()).toMatchObject({ outcome: 'complete', mode: 'full', published: 5 });
    expect(await state.readSyncToken('crm')).toBe('5');
    crm.change('2');
    crm.change('4');
    const second = await run({ correlationId: 'run-2' });
    expect(second).toMatchObject({ mode: 'incremental', published: 2, pages: 1 });
    expect(read.slice(3)).toEqual([tokenUrl(1, '5')]);
    expect(ids().slice(5)).toEqual(['2', '4']);
    expect(await state.readSyncToken('crm')).toBe('7');
    // Nothing changed: the run lists nothing and keeps the token.
    expect(await run({ correlationId: 'run-3' })).toMatchObject({ published: 0 });
    expect(await state.readSyncToken('crm')).toBe('7');
    // A full re-sync ignores the token.
    expect(await run({ full: true })).toMatchObject({ mode: 'full', published: 5 });
    expect(read.at(-3)).toBe(tokenUrl(1));
  });

  it('keeps the old token when a run fails or pauses, saving the new one only after the last page', async () => {
    const crm = new TokenCrm();
    const { state, run, ids } = setup(new MemorySyncState(), crm, TOKENED);
    state.tokens.set('crm', '1');
    expect(await run({ stopAt: Date.now() })).toMatchObject({ outcome: 'paused', pages: 1 });
    expect(await state.readSyncToken('crm')).toBe('1');
    crm.failPage = 2;
    await expect(run()).rejects.toBeInstanceOf(SourceHttpError);
    expect(await state.readSyncToken('crm')).toBe('1');
    crm.failPage = undefined;
    expect(await run()).toMatchObject({ outcome: 'complete', mode: 'incremental', pages: 1 });
    expect(await state.readSyncToken('crm')).toBe('5');
    expect(ids()).toEqual(['2', '3', '4', '5']);
  });
});

describe('a page of the wrong shape', () => {
  it('is quarantined with the reason, and the run fails without moving the cursor', async () => {
    const crm = new Crm();
    const answer = crm.answer;
    crm.answer = (url) =>
      url.searchParams.get('page') === '2' ? '{"items": {"not": "a list"}}' : answer(url);
    const { state, sinks, run, ids } = setup(new MemorySyncState(), crm);
    state.cursors.set('crm', Date.parse(at(1)));
    await expect(run()).rejects.toThrow('field "items" is not an array');
    expect(sinks.quarantined).toEqual([
      expect.objectContaining({
        stage: 'fetch',
        source: 'crm',
        raw: '{"items": {"not": "a list"}}',
        reason: expect.stringContaining('field "items" is not an array'),
      }),
    ]);
    expect(ids()).toEqual(['1', '2']);
    expect(await state.readCursor('crm')).toBe(Date.parse(at(1)));
    expect((await state.readCheckpoint('crm'))?.pages).toBe(1);
  });
});
