import { describe, expect, it } from 'vitest';
import { OneAtATimeDelivery } from '../../shared/adapters/one-at-a-time-delivery.ts';
import type { DecodedRecord } from '../../shared/domain/kafka-record.ts';
import type { Log } from '../../shared/logger.ts';
import type { PayloadDelivery } from '../../shared/ports.ts';
import { parseJoinDefinition } from '../../shared/sources/join.ts';
import { BUILT_IN_SOURCES, SOURCES, sourceForTopic } from '../../shared/sources/registry.ts';
import { type MergeDeps, mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import {
  addToRedrive,
  emptyRedriveSummary,
  redriveFailedRecords,
} from '../../shared/use-cases/redrive-batches.ts';
import { replayLetters } from '../../shared/use-cases/replay-letters.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { memoryLog } from '../support/in-memory.ts';
import { memoryMergeDeps } from '../support/merge-deps.ts';

/** A sink that fails the test if it is written to at all. */
const untouchable = {
  quarantine: () => Promise.reject(new Error('nothing to quarantine, yet quarantine was called')),
  send: () => Promise.reject(new Error('nothing to dead-letter, yet send was called')),
};

const depsWith = (overrides: Partial<MergeDeps> = {}) =>
  memoryMergeDeps({ concurrency: 4, ...overrides });

const pair = (id: string) => [
  aDecodedRecord('customer_data', aCustomer(id)),
  aDecodedRecord('inventory_data', aProduct(id)),
];

describe('mergeBatch, what it costs', () => {
  it('costs no quarantine and no dead-letter write for a clean batch', async () => {
    const { deps, analytics } = depsWith({ quarantine: untouchable, deadLetter: untouchable });
    expect(await mergeBatch(pair('1'), deps)).toMatchObject({ posted: 1, quarantined: 0 });
    expect(analytics.received).toHaveLength(1);
  });

  it('asks the single-mode delivery about each part of 1,000 records in one pre-check call', async () => {
    const asked: number[] = [];
    const known: PayloadDelivery = {
      deliver: () => Promise.reject(new Error('every payload was delivered before')),
      delivered: async (payloads) => {
        asked.push(payloads.length);
        return payloads.map(() => true);
      },
    };
    const { deps } = depsWith({ delivery: new OneAtATimeDelivery(known, 4) });
    const records = (count: number, from: number) =>
      Array.from({ length: count }, (_, i) => pair(`p${from + i}`)).flat();
    expect(await mergeBatch(records(1_000, 0), deps)).toMatchObject({ duplicates: 1_000 });
    expect(asked).toEqual([500, 500]);
    asked.length = 0;
    expect(await mergeBatch(records(1_001, 2_000), deps)).toMatchObject({ duplicates: 1_001 });
    // One call per part; two parts are in flight at once, so their calls may come in any order.
    expect(asked.sort((a, b) => b - a)).toEqual([500, 500, 1]);
  }, 30_000);

  it('reports its duration in milliseconds of this batch', async () => {
    const { deps } = depsWith();
    const { durationMs } = await mergeBatch(pair('1'), deps);
    expect(durationMs).toBeGreaterThanOrEqual(0);
    expect(durationMs).toBeLessThan(10_000);
  });
});

describe('mergeBatch, what it says about each record', () => {
  it('quarantines a record of a source that fills no side of the join, with its reason', async () => {
    const other = { ...SOURCES.crm, name: 'other' };
    const { deps, sinks } = depsWith({
      sourceForTopic: (topic) => (topic === 'other_data' ? other : sourceForTopic(topic)),
    });
    const summary = await mergeBatch([aDecodedRecord('other_data', aCustomer('1'))], deps);
    expect(summary).toMatchObject({ quarantined: 1, merged: 0, waiting: 0 });
    expect(sinks.quarantined[0]).toMatchObject({
      stage: 'merge',
      reason: 'source other fills no side of the join',
      topic: 'other_data',
    });
  });

  it('quarantines a record without a value with an empty raw text', async () => {
    const { deps, sinks } = depsWith();
    await mergeBatch([aDecodedRecord('customer_data', null, { key: '1' })], deps);
    expect(sinks.quarantined).toEqual([
      expect.objectContaining({ reason: 'record has no value', raw: '' }),
    ]);
  });

  it('logs a payload of the {customer, inventory} shape under its record key', async () => {
    const join = parseJoinDefinition({ payload: 'sides' }, BUILT_IN_SOURCES);
    const { deps, log } = depsWith({ join });
    await mergeBatch(pair('7'), deps);
    expect(
      log.lines.find((line) => line.message === 'payload delivered')?.attributes,
    ).toMatchObject({ id: '7' });
  });

  it('logs a payload the delivery found delivered as a duplicate, not as delivered', async () => {
    const late: PayloadDelivery = {
      deliver: async () => 'duplicate',
      delivered: async (payloads) => payloads.map(() => false),
    };
    const { deps, log } = depsWith({ delivery: new OneAtATimeDelivery(late, 4) });
    expect(await mergeBatch(pair('1'), deps)).toMatchObject({ posted: 0, duplicates: 1 });
    const messages = log.lines.map((line) => `${line.level} ${line.message}`);
    expect(messages).toContain('debug payload already delivered');
    expect(messages).not.toContain('info payload delivered');
  });
});

describe('re-drive of failed batches', () => {
  it('merges failed records as records of their source topic, and sums the chunks', async () => {
    const { deps, analytics } = depsWith();
    // As the event source mapping writes them: the record itself, on the failed topic.
    const failed = (record: DecodedRecord) => ({
      partition: record.partition,
      offset: record.offset,
      timestamp: record.timestamp,
      key: record.key,
      value: record.value,
      headers: { ...record.headers, 'failed-reason': 'timeout' },
    });
    const [customer, product] = pair('1') as [DecodedRecord, DecodedRecord];
    const first = await redriveFailedRecords([failed(customer)], 'customer_data', deps);
    const second = await redriveFailedRecords([failed(product)], 'inventory_data', deps);
    expect(analytics.received).toEqual([
      { id: '1', customer: aCustomer('1'), inventory: aProduct('1') },
    ]);
    const total = emptyRedriveSummary();
    expect(total).toEqual({
      records: 0,
      posted: 0,
      duplicates: 0,
      deadLettered: 0,
      quarantined: 0,
      waiting: 0,
      remaining: 0,
    });
    addToRedrive(total, first);
    addToRedrive(total, second);
    addToRedrive(total, { ...second, duplicates: 2, deadLettered: 3, quarantined: 4, posted: 0 });
    expect(total).toEqual({
      records: 3,
      posted: 1,
      duplicates: 2,
      deadLettered: 3,
      quarantined: 4,
      waiting: 1,
      remaining: 0,
    });
  });
});

describe('replay of dead letters, counted', () => {
  it('counts a letter delivered now as posted and one delivered meanwhile as a duplicate', async () => {
    const { deps } = depsWith();
    const payload = { id: '1', customer: aCustomer('1'), inventory: aProduct('1') };
    const letter = { id: 'm1', body: JSON.stringify({ payload }) };
    const log = memoryLog() as unknown as Log;
    const first = await replayLetters([letter], deps.delivery, log);
    const again = await replayLetters([{ ...letter, id: 'm2' }], deps.delivery, log);
    expect([first.summary, again.summary]).toEqual([
      { letters: 1, posted: 1, duplicates: 0, failed: 0 },
      { letters: 1, posted: 0, duplicates: 1, failed: 0 },
    ]);
  });
});
