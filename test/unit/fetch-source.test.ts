import { describe, expect, it } from 'vitest';
import { SourceHttpError, SourceResponseError } from '../../shared/errors.ts';
import type { Log } from '../../shared/logger.ts';
import { SOURCES } from '../../shared/sources/registry.ts';
import { type FetchDeps, fetchSource } from '../../shared/use-cases/fetch-source.ts';
import { aCustomer } from '../support/factories.ts';
import { MemorySinks, MemorySourceReader, memoryLog } from '../support/in-memory.ts';

/** fetchSource without sync state: pages, checks, quarantine, limits and totals. */

const FETCHED_AT = new Date('2025-06-01T12:00:00.000Z');
const ENDPOINT = 'http://crm.test/customers';
const pageUrl = (page: number) => `${ENDPOINT}?page=${page}&pageSize=2`;

/** The CRM's paged envelope, page by page number; a page may be a raw body or an error. */
function setup(pages: Record<number, object | string | Error>, options: Partial<FetchDeps> = {}) {
  const sinks = new MemorySinks();
  const log = memoryLog();
  const reader = new MemorySourceReader(SOURCES.crm, 2, (url) => {
    const answer = pages[Number(url.searchParams.get('page'))];
    if (answer === undefined) return new Error(`no page at ${url}`);
    return typeof answer === 'string' || answer instanceof Error ? answer : JSON.stringify(answer);
  });
  reader.retries = 2;
  const deps: FetchDeps = {
    source: SOURCES.crm,
    topic: 'run.customer_data',
    endpoint: ENDPOINT,
    reader,
    publisher: sinks,
    quarantine: sinks,
    log: log as unknown as Log,
    correlationId: 'run-1',
    pageSize: 2,
    maxPages: 10,
    maxRecordBytes: 500,
    now: () => FETCHED_AT,
    ...options,
  };
  return { deps, sinks, log, read: reader.read };
}

const published = (sinks: MemorySinks) => sinks.published.get('run.customer_data') ?? [];

describe('fetchSource', () => {
  it('publishes every record of every page whole, keyed by id, with where and when it was fetched', async () => {
    const extra = aCustomer('3', { phone: '+44 20 7946 0000', tags: ['vip'] });
    const { deps, sinks, read } = setup({
      1: { items: [aCustomer('1'), aCustomer('2')], nextPage: 2 },
      2: { items: [extra], nextPage: null },
    });
    const summary = await fetchSource(deps);
    expect(read).toEqual([pageUrl(1), pageUrl(2)]);
    expect(published(sinks)).toEqual(
      [aCustomer('1'), aCustomer('2'), extra].map((record) => ({
        key: record.id,
        value: JSON.stringify(record),
        headers: {
          'correlation-id': 'run-1',
          'fetched-at': FETCHED_AT.toISOString(),
          source: 'crm',
        },
      })),
    );
    expect(summary).toMatchObject({
      source: 'crm',
      correlationId: 'run-1',
      outcome: 'complete',
      mode: 'full',
      fetched: 3,
      published: 3,
      quarantined: 0,
      unchanged: 0,
      pages: 2,
      retries: 2,
    });
    expect(summary).not.toHaveProperty('expected');
    expect(summary).not.toHaveProperty('since');
  });

  it('quarantines invalid and oversized records with the reason, and publishes the rest', async () => {
    const big = aCustomer('9', { name: 'x'.repeat(600) });
    const { deps, sinks, log } = setup({
      1: {
        items: [aCustomer('1'), { id: '2', name: 'No Email' }, { name: 'No Id' }, big, 'text'],
        nextPage: null,
      },
    });
    const summary = await fetchSource(deps);
    expect(published(sinks).map((message) => message.key)).toEqual(['1']);
    const entry = (reason: string, raw: unknown, id?: string) => ({
      stage: 'fetch',
      source: 'crm',
      reason,
      raw: JSON.stringify(raw),
      correlationId: 'run-1',
      ...(id !== undefined && { id }),
    });
    expect(sinks.quarantined).toEqual([
      entry('email: is required', { id: '2', name: 'No Email' }, '2'),
      entry('id: is required', { name: 'No Id' }),
      entry(`record is ${JSON.stringify(big).length} bytes, over the 500-byte limit`, big),
      entry('record is "text", not a JSON object', 'text'),
    ]);
    expect(summary).toMatchObject({ fetched: 5, published: 1, quarantined: 4 });
    const lines = log.lines.filter((line) => line.message === 'record quarantined');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toEqual({
      level: 'warn',
      message: 'record quarantined',
      attributes: { source: 'crm', page: 1, id: '2', reason: 'email: is required' },
    });
  });

  it('logs one line per record published and one per page', async () => {
    const { deps, log } = setup({
      1: { items: [aCustomer('1')], nextPage: 2 },
      2: { items: [aCustomer('2'), { id: 3 }], nextPage: null },
    });
    await fetchSource(deps);
    const lines = log.lines.filter((line) => / published$/.test(line.message));
    const record = (id: string, page: number) => ({
      level: 'info',
      message: 'record published',
      attributes: { id, topic: 'run.customer_data', page },
    });
    const page = (n: number, quarantined: number) => ({
      level: 'info',
      message: 'page published',
      attributes: { source: 'crm', page: n, published: 1, quarantined, unchanged: 0 },
    });
    expect(lines).toEqual([record('1', 1), page(1, 0), record('2', 2), page(2, 1)]);
  });

  it('stops at the page limit, reading no page past it, and says it cannot continue', async () => {
    const page = (n: number) => ({ items: [aCustomer(`${n}`)], nextPage: n < 4 ? n + 1 : null });
    const { deps, read, log } = setup(
      { 1: page(1), 2: page(2), 3: page(3), 4: page(4) },
      {
        maxPages: 2,
      },
    );
    const summary = await fetchSource(deps);
    expect(read).toEqual([pageUrl(1), pageUrl(2)]);
    expect(summary).toMatchObject({ outcome: 'paused', pages: 2, published: 2 });
    expect(log.lines.filter((line) => line.message.startsWith('stopping'))).toEqual([
      {
        level: 'info',
        message: 'stopping at the page limit (no state store to continue from)',
        attributes: { source: 'crm', pages: 2, next: pageUrl(3) },
      },
    ]);
  });

  it('quarantines a malformed page body and fails the run, keeping what was published', async () => {
    const { deps, sinks } = setup({ 1: { items: [aCustomer('1')], nextPage: 2 }, 2: '<html>' });
    const error = await fetchSource(deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceResponseError);
    expect((error as SourceResponseError).url).toBe(pageUrl(2));
    expect(published(sinks).map((message) => message.key)).toEqual(['1']);
    expect(sinks.quarantined).toEqual([
      {
        stage: 'fetch',
        source: 'crm',
        reason: (error as Error).message,
        raw: '<html>',
        correlationId: 'run-1',
      },
    ]);
  });

  it('quarantines a page of the wrong shape with the reason', async () => {
    const body = JSON.stringify({ items: { id: '1' }, nextPage: null });
    const { deps, sinks } = setup({ 1: body });
    await expect(fetchSource(deps)).rejects.toThrow('field "items" is not an array');
    expect(sinks.quarantined).toEqual([
      expect.objectContaining({ raw: body, reason: expect.stringMatching(/is not an array$/) }),
    ]);
    expect(published(sinks)).toEqual([]);
  });

  it('fails without quarantining anything when a page cannot be read at all', async () => {
    const unreadable = new SourceHttpError(pageUrl(2), 503, 5, 'HTTP 503');
    const { deps, sinks } = setup({ 1: { items: [aCustomer('1')], nextPage: 2 }, 2: unreadable });
    await expect(fetchSource(deps)).rejects.toBe(unreadable);
    expect(sinks.quarantined).toEqual([]);
    expect(published(sinks).map((message) => message.key)).toEqual(['1']);
  });

  it('warns when the source announced a different total than it served', async () => {
    const { deps, log } = setup({ 1: { items: [aCustomer('1')], nextPage: null, total: 5 } });
    const summary = await fetchSource(deps);
    expect(summary.expected).toBe(5);
    expect(log.lines.filter((line) => line.level === 'warn')).toEqual([
      {
        level: 'warn',
        message: 'source announced a different total than it served',
        attributes: { source: 'crm', expected: 5, fetched: 1 },
      },
    ]);
  });

  it('says nothing when the announced total matches', async () => {
    const { deps, log } = setup({ 1: { items: [aCustomer('1')], nextPage: null, total: 1 } });
    expect((await fetchSource(deps)).expected).toBe(1);
    expect(log.lines.filter((line) => line.level === 'warn')).toEqual([]);
  });
});
