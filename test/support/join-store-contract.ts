import { expect, it } from 'vitest';
import type { JoinStore } from '../../shared/ports.ts';
import { aCustomer, aProduct } from './factories.ts';

/**
 * The JoinStore contract, run against every adapter (in memory for the use-case tests, Redis in
 * production), so the store the unit tests use cannot drift from the one that ships.
 * `store()` gives a store with no state for the ids used here.
 */
export function joinStoreContract(store: () => JoinStore): void {
  it('returns one side alone until the other arrives, then both', async () => {
    const joins = store();
    const [first] = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1'), version: 100 },
    ]);
    expect(first).toEqual({ customer: aCustomer('1') });
    const [second] = await joins.upsertMany([
      { id: '1', side: 'inventory', record: aProduct('1'), version: 50 },
    ]);
    expect(second).toEqual({ customer: aCustomer('1'), inventory: aProduct('1') });
  });

  it('keeps the newer side when an older version arrives later', async () => {
    const joins = store();
    const newer = aCustomer('1', { name: 'Newer' });
    await joins.upsertMany([{ id: '1', side: 'customer', record: newer, version: 2_000 }]);
    const [state] = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'Older' }), version: 1_999 },
    ]);
    expect(state).toEqual({ customer: newer });
    const [after] = await joins.upsertMany([
      { id: '1', side: 'inventory', record: aProduct('1'), version: 1 },
    ]);
    expect(after?.customer).toEqual(newer);
  });

  it('compares versions as numbers, not as text (900 is older than 1000)', async () => {
    const joins = store();
    await joins.upsertMany([
      { id: '1', side: 'inventory', record: aProduct('1', { stock: 10 }), version: 1_000 },
    ]);
    const [state] = await joins.upsertMany([
      { id: '1', side: 'inventory', record: aProduct('1', { stock: 9 }), version: 900 },
    ]);
    expect(state?.inventory?.stock).toBe(10);
  });

  it('replaces a side with a newer version', async () => {
    const joins = store();
    await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'Old' }), version: 1 },
    ]);
    const [state] = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'New' }), version: 2 },
    ]);
    expect(state?.customer?.name).toBe('New');
  });

  it('lets the later arrival win when versions are equal', async () => {
    const joins = store();
    await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'First' }), version: 7 },
    ]);
    const [state] = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'Second' }), version: 7 },
    ]);
    expect(state?.customer?.name).toBe('Second');
  });

  it('applies a batch in order and answers each upsert with the state right after it', async () => {
    const joins = store();
    const states = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'A' }), version: 5 },
      { id: '2', side: 'inventory', record: aProduct('2'), version: 5 },
      { id: '1', side: 'inventory', record: aProduct('1'), version: 5 },
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'Stale' }), version: 4 },
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'B' }), version: 6 },
    ]);
    expect(states).toEqual([
      { customer: aCustomer('1', { name: 'A' }) },
      { inventory: aProduct('2') },
      { customer: aCustomer('1', { name: 'A' }), inventory: aProduct('1') },
      { customer: aCustomer('1', { name: 'A' }), inventory: aProduct('1') },
      { customer: aCustomer('1', { name: 'B' }), inventory: aProduct('1') },
    ]);
    expect(await joins.upsertMany([])).toEqual([]);
  });

  it('returns every field of a stored record, including ones the pipeline does not know', async () => {
    const joins = store();
    const record = { ...aCustomer('1'), tier: 'gold', tags: ['a', 'b'], nested: { x: 1 } };
    const [state] = await joins.upsertMany([{ id: '1', side: 'customer', record, version: 1 }]);
    expect(state?.customer).toEqual(record);
  });
}
