import { beforeEach, describe, expect, it } from 'vitest';
import { OneAtATimeDelivery } from '../../shared/adapters/one-at-a-time-delivery.ts';
import { payloadHash } from '../../shared/domain/merge.ts';
import { type MergeDeps, mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import type { MemoryAnalytics, MemorySinks, memoryLog } from '../support/in-memory.ts';
import { memoryMergeDeps } from '../support/merge-deps.ts';

let analytics: MemoryAnalytics;
let sinks: MemorySinks;
let log: ReturnType<typeof memoryLog>;
let deps: MergeDeps;

beforeEach(() => {
  ({ deps, analytics, sinks, log } = memoryMergeDeps());
});

const customer = (value: unknown, options?: Parameters<typeof aDecodedRecord>[2]) =>
  aDecodedRecord('customer_data', value, options);
const product = (value: unknown, options?: Parameters<typeof aDecodedRecord>[2]) =>
  aDecodedRecord('inventory_data', value, options);
const lines = (message: string) => log.lines.filter((line) => line.message === message);

describe('mergeBatch, record by record', () => {
  it('quarantines a record from a topic no source writes and a record without a value', async () => {
    const summary = await mergeBatch(
      [aDecodedRecord('orders', aCustomer('1')), customer(null, { key: '2' })],
      deps,
    );
    expect(summary).toMatchObject({ records: 2, quarantined: 2, merged: 0, waiting: 0 });
    expect(sinks.quarantined.map(({ reason, id }) => ({ reason, id }))).toEqual([
      { reason: 'topic orders is not a source topic', id: undefined },
      { reason: 'record has no value', id: undefined },
    ]);
    expect(sinks.quarantined[0]).not.toHaveProperty('id');
  });

  it('keeps the key as the id of an oversized or non-JSON record in quarantine', async () => {
    await mergeBatch(
      [
        customer(aCustomer('3', { name: 'x'.repeat(3_000) })),
        customer('{not json', { key: '4' }),
        customer('{not json', { key: null }),
      ],
      deps,
    );
    expect(sinks.quarantined.map((entry) => entry.id)).toEqual(['3', '4', undefined]);
    expect(sinks.quarantined[2]).not.toHaveProperty('id');
    expect(lines('record quarantined')[1]?.attributes).toEqual({
      topic: 'customer_data',
      partition: 0,
      offset: sinks.quarantined[1]?.offset,
      id: '4',
      reason: 'value is not JSON',
    });
  });

  it('accepts a record exactly at the size limit', async () => {
    const record = customer(aCustomer('1'));
    deps.maxRecordBytes = Buffer.byteLength(record.value ?? '');
    expect(await mergeBatch([record], deps)).toMatchObject({ quarantined: 0, waiting: 1 });
  });

  it('joins a record that has no key by the id in its value', async () => {
    const summary = await mergeBatch(
      [customer(aCustomer('1'), { key: null }), product(aProduct('1'), { key: null })],
      deps,
    );
    expect(summary).toMatchObject({ quarantined: 0, posted: 1 });
  });

  it('counts the ids merged and the ids still waiting for their other side', async () => {
    const summary = await mergeBatch(
      [customer(aCustomer('1')), product(aProduct('1')), customer(aCustomer('2'))],
      deps,
    );
    expect(summary).toMatchObject({ records: 3, merged: 1, waiting: 1, posted: 1 });
  });

  it('orders records without updatedAt by when they were fetched, not by when they arrive', async () => {
    await mergeBatch([product(aProduct('1'))], deps);
    const fetchedAt = (iso: string) => ({ 'correlation-id': 'run-2', 'fetched-at': iso });
    await mergeBatch(
      [customer(aCustomer('1', { name: 'Later' }), { headers: fetchedAt('2025-06-02T00:00:00Z') })],
      deps,
    );
    const late = await mergeBatch(
      [
        customer(aCustomer('1', { name: 'Earlier' }), {
          headers: fetchedAt('2025-06-01T00:00:00Z'),
        }),
      ],
      deps,
    );
    expect(late).toMatchObject({ posted: 0, duplicates: 1 });
    expect(analytics.received.map((payload) => payload.customer.name)).toEqual(['Later']);
  });

  it('falls back to the Kafka timestamp when a record has no fetched-at header', async () => {
    await mergeBatch([product(aProduct('1'))], deps);
    await mergeBatch(
      [customer(aCustomer('1', { name: 'Later' }), { headers: {}, timestamp: 2_000 })],
      deps,
    );
    await mergeBatch(
      [customer(aCustomer('1', { name: 'Earlier' }), { headers: {}, timestamp: 1_000 })],
      deps,
    );
    expect(analytics.received.map((payload) => payload.customer.name)).toEqual(['Later']);
  });
});

describe('mergeBatch log lines and dead letters', () => {
  it('logs where each joined record and each delivered payload came from', async () => {
    const records = [customer(aCustomer('1')), product(aProduct('1'))];
    await mergeBatch(records, deps);
    const payload = { id: '1', customer: aCustomer('1'), inventory: aProduct('1') };
    expect(lines('record joined').map((line) => line.attributes)).toEqual([
      {
        topic: 'customer_data',
        partition: 0,
        offset: records[0]?.offset,
        id: '1',
        side: 'customer',
        correlationId: 'run-1',
      },
      {
        topic: 'inventory_data',
        partition: 0,
        offset: records[1]?.offset,
        id: '1',
        side: 'inventory',
        correlationId: 'run-1',
      },
    ]);
    expect(lines('payload delivered')).toEqual([
      {
        level: 'info',
        message: 'payload delivered',
        attributes: {
          id: '1',
          topic: 'inventory_data',
          partition: 0,
          offset: records[1]?.offset,
          correlationId: 'run-1',
          hash: payloadHash(payload),
        },
      },
    ]);
    expect(lines('payload already delivered')).toEqual([]);

    await mergeBatch([customer(aCustomer('1'))], deps);
    expect(lines('payload already delivered')).toEqual([
      expect.objectContaining({ level: 'debug', attributes: expect.objectContaining({ id: '1' }) }),
    ]);
    expect(lines('payload delivered')).toHaveLength(1);
  });

  it('dead-letters with the correlation id of the record, and logs the reason as an error', async () => {
    analytics.refuse.add('1');
    await mergeBatch([customer(aCustomer('1')), product(aProduct('1'), { headers: {} })], deps);
    analytics.refuse.add('2');
    await mergeBatch([customer(aCustomer('2')), product(aProduct('2'))], deps);
    expect(sinks.deadLetters.map((letter) => letter.correlationId)).toEqual([undefined, 'run-1']);
    expect(sinks.deadLetters[0]).not.toHaveProperty('correlationId');
    expect(
      lines('payload dead-lettered').map((line) => [line.level, line.attributes.reason]),
    ).toEqual([
      ['error', 'POST to Analytics failed after 3 attempt(s): HTTP 503'],
      ['error', 'POST to Analytics failed after 3 attempt(s): HTTP 503'],
    ]);
  });

  it('fails the batch, dead-lettering nothing, when delivery fails for another reason than Analytics', async () => {
    deps.delivery = new OneAtATimeDelivery(
      {
        delivered: async (payloads) => payloads.map(() => false),
        deliver: async () => {
          throw new Error('Redis connection lost');
        },
      },
      2,
    );
    await expect(
      mergeBatch([customer(aCustomer('1')), product(aProduct('1'))], deps),
    ).rejects.toThrow('Redis connection lost');
    expect(sinks.deadLetters).toEqual([]);
  });
});
