import { describe, expect, it } from 'vitest';
import { payloadHash } from '../../shared/domain/merge.ts';
import { mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { sweepPending } from '../../shared/use-cases/sweep-pending.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { MemoryJoinStore } from '../support/in-memory.ts';
import { aPrice, aThreeSidedRecord, threeSidedDeps } from '../support/three-sources.ts';

type SideName = 'customer' | 'inventory' | 'price';
const SIDES: SideName[] = ['customer', 'inventory', 'price'];
const ORDERS: SideName[][] = [
  ['customer', 'inventory', 'price'],
  ['customer', 'price', 'inventory'],
  ['inventory', 'customer', 'price'],
  ['inventory', 'price', 'customer'],
  ['price', 'customer', 'inventory'],
  ['price', 'inventory', 'customer'],
];
const JOIN = { sides: { pricing: 'price' } };

function setup(join: object = JOIN, clock = { now: 0 }) {
  const store = new MemoryJoinStore({ required: SIDES }, () => clock.now);
  return { clock, store, ...threeSidedDeps(join, store, clock) };
}

describe('a join of three sources, every arrival order', () => {
  it.each(ORDERS)('delivers %s, %s, %s once, complete, after the last side', async (...order) => {
    const { analytics, merge, store } = setup();
    for (const [index, side] of order.entries()) {
      const summary = await mergeBatch([aThreeSidedRecord(side, '1')], merge);
      expect(summary.posted).toBe(index === 2 ? 1 : 0);
      expect(summary.waiting).toBe(index === 2 ? 0 : 1);
    }
    expect(analytics.received).toEqual([
      { id: '1', customer: aCustomer('1'), inventory: aProduct('1'), price: aPrice('1') },
    ]);
    expect((await store.stats()).pending).toBe(0);
  });

  it.each(ORDERS)('delivers %s, %s, %s arriving in one batch once', async (...order) => {
    const { analytics, merge } = setup();
    const summary = await mergeBatch(
      order.map((side) => aThreeSidedRecord(side, '1')),
      merge,
    );
    expect(summary).toMatchObject({ merged: 1, posted: 1, waiting: 0 });
    expect(analytics.received).toHaveLength(1);
  });

  it('skips a repeated record and a stale version, and delivers a newer one once', async () => {
    const { analytics, merge } = setup();
    await mergeBatch(
      [
        aThreeSidedRecord('customer', '1'),
        aThreeSidedRecord('inventory', '1'),
        aDecodedRecord('pricing_data', aPrice('1', 10, 5)),
      ],
      merge,
    );
    const repeated = await mergeBatch([aDecodedRecord('pricing_data', aPrice('1', 10, 5))], merge);
    const stale = await mergeBatch([aDecodedRecord('pricing_data', aPrice('1', 99, 4))], merge);
    expect([repeated.posted, repeated.duplicates, stale.posted, stale.duplicates]).toEqual([
      0, 1, 0, 1,
    ]);
    const newer = await mergeBatch([aDecodedRecord('pricing_data', aPrice('1', 12, 6))], merge);
    expect(newer.posted).toBe(1);
    expect(
      analytics.received.map((payload) => (payload.price as { amount: number }).amount),
    ).toEqual([10, 12]);
  });

  it('delivers again when an optional side arrives or changes, never twice the same', async () => {
    const { analytics, merge } = setup({ ...JOIN, optional: ['price'] });
    await mergeBatch(
      [aThreeSidedRecord('customer', '1'), aThreeSidedRecord('inventory', '1')],
      merge,
    );
    await mergeBatch([aDecodedRecord('pricing_data', aPrice('1', 10, 1))], merge);
    await mergeBatch([aDecodedRecord('pricing_data', aPrice('1', 10, 1))], merge);
    await mergeBatch([aDecodedRecord('pricing_data', aPrice('1', 11, 2))], merge);
    expect(analytics.received.map((payload) => Object.keys(payload).sort().join())).toEqual([
      'customer,id,inventory',
      'customer,id,inventory,price',
      'customer,id,inventory,price',
    ]);
    expect(new Set(analytics.received.map(payloadHash)).size).toBe(3);
  });

  it('delivers the original {customer, inventory} shape when the join says so', async () => {
    const { analytics, merge } = setup({
      sides: { pricing: 'price' },
      optional: ['price'],
      payload: 'sides',
    });
    await mergeBatch(
      [aThreeSidedRecord('customer', '1'), aThreeSidedRecord('inventory', '1')],
      merge,
    );
    expect(JSON.stringify(analytics.received[0])).toBe(
      JSON.stringify({ customer: aCustomer('1'), inventory: aProduct('1') }),
    );
  });
});

describe('the missing-side policy', () => {
  it('wait: the sweeper delivers nothing and reports the orphans', async () => {
    const { analytics, merge, sweep, clock } = setup();
    await mergeBatch([aThreeSidedRecord('customer', '1')], merge);
    clock.now = 3_600_000;
    expect(await sweepPending(sweep)).toMatchObject({
      policy: 'wait',
      due: 0,
      emitted: 0,
      pending: 1,
      oldestAgeMs: 3_600_000,
    });
    expect(analytics.received).toEqual([]);
  });

  it('emit after: a partial payload with nulls after the grace period, then each arrival, then the complete one', async () => {
    const { analytics, merge, sweep, clock } = setup({ ...JOIN, missing: 'emit after 1m' });
    await mergeBatch(
      [aThreeSidedRecord('customer', '1'), aThreeSidedRecord('customer', '2')],
      merge,
    );
    clock.now = 59_999;
    expect((await sweepPending(sweep)).emitted).toBe(0);
    clock.now = 60_000;
    expect(await sweepPending(sweep)).toMatchObject({ due: 2, emitted: 2, pending: 2 });
    expect(analytics.received[0]).toEqual({
      id: '1',
      customer: aCustomer('1'),
      inventory: null,
      price: null,
    });
    clock.now = 120_000;
    expect(await sweepPending(sweep)).toMatchObject({ due: 0, emitted: 0, pending: 2 });

    const second = await mergeBatch([aThreeSidedRecord('inventory', '1')], merge);
    const third = await mergeBatch([aThreeSidedRecord('price', '1')], merge);
    expect([second.posted, third.posted]).toEqual([1, 1]);
    expect(analytics.received.filter((payload) => payload.id === '1')).toEqual([
      { id: '1', customer: aCustomer('1'), inventory: null, price: null },
      { id: '1', customer: aCustomer('1'), inventory: aProduct('1'), price: null },
      { id: '1', customer: aCustomer('1'), inventory: aProduct('1'), price: aPrice('1') },
    ]);
    expect(await sweepPending(sweep)).toMatchObject({ pending: 1 });
  });

  it('emit after: a sweep repeated after a crash before marking delivers nothing twice', async () => {
    const { analytics, merge, sweep, clock, store } = setup({ ...JOIN, missing: 'emit after 1s' });
    await mergeBatch([aThreeSidedRecord('price', '1')], merge);
    clock.now = 5_000;
    const crashing = {
      ...store,
      due: store.due.bind(store),
      look: store.look.bind(store),
      stats: store.stats.bind(store),
      drop: store.drop.bind(store),
      list: store.list.bind(store),
      markEmitted: () => Promise.reject(new Error('Redis went away')),
    };
    await expect(sweepPending({ ...sweep, pending: crashing })).rejects.toThrow(/Redis went away/);
    expect(analytics.received).toHaveLength(1);
    expect(await sweepPending(sweep)).toMatchObject({ due: 1, emitted: 0, duplicates: 1 });
    expect(analytics.received).toHaveLength(1);
    expect((await sweepPending(sweep)).due).toBe(0);
  });

  it('emit after: a payload Analytics refuses is dead-lettered, then no longer due', async () => {
    const { analytics, merge, sweep, clock, sinks } = setup({ ...JOIN, missing: 'emit after 1s' });
    analytics.refuse.add('1');
    await mergeBatch([aThreeSidedRecord('price', '1')], merge);
    clock.now = 5_000;
    expect(await sweepPending(sweep)).toMatchObject({ emitted: 0, deadLettered: 1 });
    expect(sinks.deadLetters[0]?.payload).toEqual({
      id: '1',
      customer: null,
      inventory: null,
      price: aPrice('1'),
    });
    expect((await sweepPending(sweep)).due).toBe(0);
  });

  it('drop after: forgets halves past the grace period, counts them, spares the young and the complete', async () => {
    const { analytics, merge, sweep, clock, store } = setup({ ...JOIN, missing: 'drop after 10s' });
    await mergeBatch([aThreeSidedRecord('customer', 'old')], merge);
    clock.now = 8_000;
    await mergeBatch([aThreeSidedRecord('customer', 'young')], merge);
    clock.now = 12_000;
    expect(await sweepPending(sweep)).toMatchObject({
      due: 1,
      dropped: 1,
      pending: 1,
      oldestAgeMs: 4_000,
    });
    expect(await store.look('old')).toEqual({ status: 'gone' });
    await mergeBatch(
      [aThreeSidedRecord('inventory', 'old'), aThreeSidedRecord('price', 'old')],
      merge,
    );
    expect(analytics.received).toEqual([]);
  });
});
