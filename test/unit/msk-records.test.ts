import { readFileSync } from 'node:fs';
import type { MSKEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeMskEvent } from '../../local/msk-event.ts';
import { createMskReader, recordSchemaOf } from '../../shared/adapters/msk-records.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import type { Log } from '../../shared/logger.ts';
import { BUILT_IN_JOIN, sourceForTopic } from '../../shared/sources/registry.ts';
import { mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { aCustomer } from '../support/factories.ts';
import {
  MemoryAnalytics,
  MemoryCache,
  MemoryJoinStore,
  MemorySinks,
  memoryLog,
} from '../support/in-memory.ts';

/** An MSK event written by hand in the shape AWS documents (base64, header byte arrays). */
const fixture = JSON.parse(
  readFileSync(new URL('../events/msk-event.json', import.meta.url), 'utf8'),
) as MSKEvent;

const reader = (maxRecordBytes = 100_000) =>
  createMskReader({
    schemaFor: (topic) => {
      const source = sourceForTopic(topic);
      return source && recordSchemaOf(source);
    },
    maxRecordBytes,
  });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('reading MSK events with Powertools at the merge edge', () => {
  it('decodes base64 keys and values and byte-array headers, in partition then offset order', async () => {
    const records = await reader()(structuredClone(fixture));
    expect(records.map(({ partition, offset }) => `${partition}@${offset}`)).toEqual([
      '0@15',
      '0@16',
      '1@4',
    ]);
    const [first, second, third] = records;
    expect(first).toMatchObject({
      topic: 'customer_data',
      key: '1',
      timestamp: 1764064800000,
      headers: { 'correlation-id': 'c-1', 'fetched-at': '2025-11-25T10:00:00Z' },
      checked: { ok: true, id: '1', change: null },
    });
    expect(JSON.parse(first?.value ?? '')).toMatchObject({ id: '1', email: 'ada@example.com' });
    // The record without a key: no key, and its value is not JSON.
    expect(second).toMatchObject({
      key: null,
      value: 'not json',
      headers: {},
      checked: { ok: false, reason: 'value is not JSON' },
    });
    expect(third).toMatchObject({
      key: '2',
      headers: { 'correlation-id': 'c-2' },
      checked: { ok: false, reason: 'id: is required' },
    });
  });

  it("keeps Powertools' console.error about a value that is not JSON out of the logs", async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    await reader()(structuredClone(fixture));
    expect(printed).not.toHaveBeenCalled();
  });

  it('leaves an oversized value unparsed, and a topic without a source unchecked, for the merge', async () => {
    const event = encodeMskEvent(
      [
        {
          topic: 'customer_data',
          value: JSON.stringify(aCustomer('9', { name: 'x'.repeat(500) })),
        },
        { topic: 'orders', value: '{"id":"1"}' },
      ].map((record, offset) => ({
        ...record,
        partition: 0,
        offset: String(offset),
        timestamp: 1,
        key: null,
        headers: {},
      })),
      { eventSourceArn: 'arn:test', bootstrapServers: 'b:9092' },
    );
    const records = await reader(200)(event);
    expect(records).toHaveLength(2);
    for (const record of records) expect(record).not.toHaveProperty('checked');
  });

  it('the local encoder writes what the reader reads back unchanged', async () => {
    const records = await reader()(structuredClone(fixture));
    const event = encodeMskEvent(records, {
      eventSourceArn: fixture.eventSourceArn,
      bootstrapServers: fixture.bootstrapServers,
    });
    expect(Object.keys(event.records)).toEqual(['customer_data-0', 'customer_data-1']);
    expect(event.records['customer_data-0']?.[1]).not.toHaveProperty('key');
    expect(event.records['customer_data-0']?.[1]?.headers).toEqual([]);
    expect(await reader()(event)).toEqual(records);
  });

  it('through the merge: the good record joins, the others are quarantined with their reason', async () => {
    const sinks = new MemorySinks();
    const delivery = new IdempotentDelivery({
      cache: new MemoryCache(),
      analytics: new MemoryAnalytics(),
      ttlSeconds: 60,
      keyPrefix: 'edge:',
      concurrency: 2,
    });
    delivery.registerInvocation({ getRemainingTimeInMillis: () => 60_000 });
    const summary = await mergeBatch(await reader()(structuredClone(fixture)), {
      joinStore: new MemoryJoinStore(),
      join: BUILT_IN_JOIN,
      delivery,
      deadLetter: sinks,
      quarantine: sinks,
      log: memoryLog() as unknown as Log,
      sourceForTopic: (topic) => sourceForTopic(topic),
      maxRecordBytes: 100_000,
    });
    expect(summary).toMatchObject({ records: 3, quarantined: 2, waiting: 1, held: 0, retry: [] });
    expect(sinks.quarantined.map(({ reason, offset, raw }) => ({ reason, offset, raw }))).toEqual([
      { reason: 'value is not JSON', offset: '16', raw: 'not json' },
      {
        reason: 'id: is required',
        offset: '4',
        raw: '{"name":"No Id","email":"x@example.com"}',
      },
    ]);
  });
});
