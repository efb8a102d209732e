import { describe, expect, it } from 'vitest';
import { SourceResponseError } from '../../shared/errors.ts';
import type { Log } from '../../shared/logger.ts';
import { type FetchDeps, fetchSource } from '../../shared/pipeline/fetch-source.ts';
import type { SourcePageReader } from '../../shared/ports.ts';
import type { SourcePage } from '../../shared/sources/page.ts';
import { SOURCES } from '../../shared/sources/registry.ts';
import { aCustomer } from '../support/factories.ts';
import { MemorySinks, memoryLog } from '../support/in-memory.ts';

const FETCHED_AT = new Date('2025-06-01T12:00:00.000Z');

/** A source listing served from memory; a page may be an error the reader throws. */
function pagesReader(pages: (SourcePage | Error)[], retries = 0) {
  const read: number[] = [];
  const reader: SourcePageReader = {
    retries,
    readPage: async (page) => {
      read.push(page);
      const answer = pages[page - 1];
      if (answer === undefined) throw new Error(`no page ${page}`);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return { reader, read };
}

function setup(pages: (SourcePage | Error)[], options: Partial<FetchDeps> = {}) {
  const sinks = new MemorySinks();
  const log = memoryLog();
  const { reader, read } = pagesReader(pages, 2);
  const deps: FetchDeps = {
    source: SOURCES.crm,
    topic: 'run.customer_data',
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
  return { deps, sinks, log, read };
}

const published = (sinks: MemorySinks) => sinks.published.get('run.customer_data') ?? [];

describe('fetchSource', () => {
  it('publishes every record of every page, keyed by id, with where and when it was fetched', async () => {
    const { deps, sinks, read } = setup([
      { items: [aCustomer('1'), aCustomer('2')], nextPage: 2 },
      { items: [aCustomer('3')], nextPage: null },
    ]);
    const summary = await fetchSource(deps);
    expect(read).toEqual([1, 2]);
    expect(published(sinks)).toEqual(
      ['1', '2', '3'].map((id) => ({
        key: id,
        value: JSON.stringify(aCustomer(id)),
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
      fetched: 3,
      published: 3,
      quarantined: 0,
      pages: 2,
      retries: 2,
    });
    expect(summary).not.toHaveProperty('expected');
  });

  it('quarantines invalid and oversized records with the reason, and publishes the rest', async () => {
    const big = aCustomer('9', { name: 'x'.repeat(600) });
    const { deps, sinks, log } = setup([
      {
        items: [aCustomer('1'), { id: '2', name: 'No Email' }, { name: 'No Id' }, big],
        nextPage: null,
      },
    ]);
    const summary = await fetchSource(deps);
    expect(published(sinks).map((message) => message.key)).toEqual(['1']);
    expect(sinks.quarantined).toEqual([
      {
        stage: 'fetch',
        source: 'crm',
        id: '2',
        reason: 'email: Invalid input: expected string, received undefined',
        raw: JSON.stringify({ id: '2', name: 'No Email' }),
        correlationId: 'run-1',
      },
      expect.objectContaining({ raw: '{"name":"No Id"}', reason: expect.stringMatching(/^id: /) }),
      {
        stage: 'fetch',
        source: 'crm',
        reason: `record is ${JSON.stringify(big).length} bytes, over the 500-byte limit`,
        raw: JSON.stringify(big),
        correlationId: 'run-1',
      },
    ]);
    expect(sinks.quarantined[1]).not.toHaveProperty('id');
    expect(summary).toMatchObject({ fetched: 4, published: 1, quarantined: 3 });
    expect(log.lines.filter((line) => line.message === 'record quarantined')).toHaveLength(3);
    expect(log.lines.find((line) => line.message === 'record quarantined')?.attributes).toEqual({
      source: 'crm',
      page: 1,
      id: '2',
      reason: 'email: Invalid input: expected string, received undefined',
    });
  });

  it('logs one line per record published and one per page', async () => {
    const { deps, log } = setup([
      { items: [aCustomer('1')], nextPage: 2 },
      { items: [aCustomer('2'), { id: 3 }], nextPage: null },
    ]);
    await fetchSource(deps);
    const lines = log.lines.filter((line) => line.level === 'info');
    expect(lines).toEqual([
      {
        level: 'info',
        message: 'record published',
        attributes: { id: '1', topic: 'run.customer_data', page: 1 },
      },
      {
        level: 'info',
        message: 'page published',
        attributes: { source: 'crm', page: 1, published: 1, quarantined: 0 },
      },
      {
        level: 'info',
        message: 'record published',
        attributes: { id: '2', topic: 'run.customer_data', page: 2 },
      },
      {
        level: 'info',
        message: 'page published',
        attributes: { source: 'crm', page: 2, published: 1, quarantined: 1 },
      },
    ]);
  });

  it('stops at the page limit with a warning, reading no page past it', async () => {
    const page = (next: number | null): SourcePage => ({
      items: [aCustomer(`${next}`)],
      nextPage: next,
    });
    const { deps, read, log } = setup([page(2), page(3), page(4), page(null)], { maxPages: 2 });
    const summary = await fetchSource(deps);
    expect(read).toEqual([1, 2]);
    expect(summary).toMatchObject({ pages: 2, published: 2 });
    expect(log.lines.filter((line) => line.level === 'warn')).toEqual([
      {
        level: 'warn',
        message: 'stopping at the page limit',
        attributes: { source: 'crm', maxPages: 2 },
      },
    ]);
  });

  it('fails when the next page does not advance, instead of reading forever', async () => {
    const { deps, sinks } = setup([
      { items: [aCustomer('1')], nextPage: 2 },
      { items: [aCustomer('2')], nextPage: 2 },
    ]);
    await expect(fetchSource(deps)).rejects.toThrow(
      new SourceResponseError('/customers?page=2', 'next page 2 does not advance', ''),
    );
    expect(sinks.quarantined).toEqual([]);
  });

  it('quarantines a malformed page body and fails the run', async () => {
    const malformed = new SourceResponseError('/customers?page=2', 'body is not JSON', '<html>');
    const { deps, sinks } = setup([{ items: [aCustomer('1')], nextPage: 2 }, malformed]);
    await expect(fetchSource(deps)).rejects.toBe(malformed);
    expect(published(sinks).map((message) => message.key)).toEqual(['1']);
    expect(sinks.quarantined).toEqual([
      {
        stage: 'fetch',
        source: 'crm',
        reason: malformed.message,
        raw: '<html>',
        correlationId: 'run-1',
      },
    ]);
  });

  it('fails without quarantining anything when a page cannot be read at all', async () => {
    const { deps, sinks } = setup([new Error('HTTP 503 after 5 attempts')]);
    await expect(fetchSource(deps)).rejects.toThrow('HTTP 503 after 5 attempts');
    expect(sinks.quarantined).toEqual([]);
  });

  it('warns when the source announced a different total than it served', async () => {
    const { deps, log } = setup([{ items: [aCustomer('1')], nextPage: null, total: 5 }]);
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
    const { deps, log } = setup([{ items: [aCustomer('1')], nextPage: null, total: 1 }]);
    expect((await fetchSource(deps)).expected).toBe(1);
    expect(log.lines.filter((line) => line.level === 'warn')).toEqual([]);
  });
});
