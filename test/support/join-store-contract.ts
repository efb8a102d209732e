import { expect, it } from 'vitest';
import type { JoinStore, PendingIndex } from '../../shared/ports.ts';
import { aCustomer, aProduct } from './factories.ts';

/** A store over a join requiring these sides, its first-seen times read from `clock.now`. */
export type StoreFactory = (join: {
  required: readonly string[];
  clock: { now: number };
}) => JoinStore & PendingIndex;

const TWO = ['customer', 'inventory'];
const THREE = ['customer', 'inventory', 'price'];
const aPrice = (id: string, amount = 10) => ({ id, amount, currency: 'EUR' });

/**
 * The JoinStore and PendingIndex contract, run against every adapter (in memory for the
 * use-case tests, Redis in production), so the store the unit tests use cannot drift from the
 * one that ships. `store()` gives a store with no state for the ids used here.
 */
export function joinStoreContract(store: StoreFactory): void {
  const two = () => store({ required: TWO, clock: { now: 1_000 } });

  it('returns one side alone until the other arrives, then both', async () => {
    const joins = two();
    const [first] = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1'), version: 100 },
    ]);
    expect(first).toEqual({ sides: { customer: aCustomer('1') }, emitted: false });
    const [second] = await joins.upsertMany([
      { id: '1', side: 'inventory', record: aProduct('1'), version: 50 },
    ]);
    expect(second?.sides).toEqual({ customer: aCustomer('1'), inventory: aProduct('1') });
  });

  it('keeps the newer side when an older version arrives later', async () => {
    const joins = two();
    const newer = aCustomer('1', { name: 'Newer' });
    await joins.upsertMany([{ id: '1', side: 'customer', record: newer, version: 2_000 }]);
    const [state] = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'Older' }), version: 1_999 },
    ]);
    expect(state?.sides).toEqual({ customer: newer });
    const [after] = await joins.upsertMany([
      { id: '1', side: 'inventory', record: aProduct('1'), version: 1 },
    ]);
    expect(after?.sides.customer).toEqual(newer);
  });

  it('compares versions as numbers, not as text (900 is older than 1000)', async () => {
    const joins = two();
    await joins.upsertMany([
      { id: '1', side: 'inventory', record: aProduct('1', { stock: 10 }), version: 1_000 },
    ]);
    const [state] = await joins.upsertMany([
      { id: '1', side: 'inventory', record: aProduct('1', { stock: 9 }), version: 900 },
    ]);
    expect(state?.sides.inventory?.stock).toBe(10);
  });

  it('lets the later arrival win when versions are equal, and a newer version replace', async () => {
    const joins = two();
    await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'First' }), version: 7 },
    ]);
    const [equal] = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'Second' }), version: 7 },
    ]);
    expect(equal?.sides.customer?.name).toBe('Second');
    const [newer] = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'Third' }), version: 8 },
    ]);
    expect(newer?.sides.customer?.name).toBe('Third');
  });

  it('applies a batch in order and answers each upsert with the state right after it', async () => {
    const joins = two();
    const states = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'A' }), version: 5 },
      { id: '2', side: 'inventory', record: aProduct('2'), version: 5 },
      { id: '1', side: 'inventory', record: aProduct('1'), version: 5 },
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'Stale' }), version: 4 },
      { id: '1', side: 'customer', record: aCustomer('1', { name: 'B' }), version: 6 },
    ]);
    expect(states.map((state) => state.sides)).toEqual([
      { customer: aCustomer('1', { name: 'A' }) },
      { inventory: aProduct('2') },
      { customer: aCustomer('1', { name: 'A' }), inventory: aProduct('1') },
      { customer: aCustomer('1', { name: 'A' }), inventory: aProduct('1') },
      { customer: aCustomer('1', { name: 'B' }), inventory: aProduct('1') },
    ]);
    expect(await joins.upsertMany([])).toEqual([]);
  });

  it('returns every field of a stored record, including ones the pipeline does not know', async () => {
    const joins = two();
    const record = { ...aCustomer('1'), tier: 'gold', tags: ['a', 'b'], nested: { x: 1 } };
    const [state] = await joins.upsertMany([{ id: '1', side: 'customer', record, version: 1 }]);
    expect(state?.sides.customer).toEqual(record);
  });

  it('joins three sides, each kept by its own version, and returns all of them', async () => {
    const joins = store({ required: THREE, clock: { now: 1_000 } });
    const states = await joins.upsertMany([
      { id: '9', side: 'price', record: aPrice('9', 5), version: 3 },
      { id: '9', side: 'customer', record: aCustomer('9'), version: 1 },
      { id: '9', side: 'price', record: aPrice('9', 4), version: 2 },
      { id: '9', side: 'inventory', record: aProduct('9'), version: 1 },
      { id: '9', side: 'price', record: aPrice('9', 6), version: 4 },
    ]);
    expect(states.map((state) => Object.keys(state.sides).sort())).toEqual([
      ['price'],
      ['customer', 'price'],
      ['customer', 'price'],
      ['customer', 'inventory', 'price'],
      ['customer', 'inventory', 'price'],
    ]);
    expect(states[2]?.sides.price).toEqual(aPrice('9', 5));
    expect(states[4]?.sides).toEqual({
      customer: aCustomer('9'),
      inventory: aProduct('9'),
      price: aPrice('9', 6),
    });
  });

  it('indexes an id while a required side is missing, by the time its first side came', async () => {
    const clock = { now: 1_000 };
    const joins = store({ required: THREE, clock });
    await joins.upsertMany([{ id: 'a', side: 'customer', record: aCustomer('a'), version: 1 }]);
    clock.now = 2_000;
    await joins.upsertMany([
      { id: 'a', side: 'inventory', record: aProduct('a'), version: 1 },
      { id: 'b', side: 'price', record: aPrice('b'), version: 1 },
    ]);
    expect(await joins.stats()).toEqual({ pending: 2, oldestFirstSeenMs: 1_000 });
    expect(await joins.due(1_500, 10)).toEqual([{ id: 'a', firstSeenMs: 1_000 }]);
    expect(await joins.list(10)).toEqual([
      {
        id: 'a',
        firstSeenMs: 1_000,
        sides: expect.arrayContaining(['customer', 'inventory']),
        emitted: false,
      },
      { id: 'b', firstSeenMs: 2_000, sides: ['price'], emitted: false },
    ]);
    await joins.upsertMany([{ id: 'a', side: 'price', record: aPrice('a'), version: 1 }]);
    expect(await joins.stats()).toEqual({ pending: 1, oldestFirstSeenMs: 2_000 });
    expect(await joins.look('a')).toEqual({ status: 'complete' });
  });

  it('leaves optional sides out of the index: an id with every required side is not pending', async () => {
    const joins = store({ required: ['customer', 'inventory'], clock: { now: 1 } });
    await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1'), version: 1 },
      { id: '1', side: 'inventory', record: aProduct('1'), version: 1 },
    ]);
    expect((await joins.stats()).pending).toBe(0);
    const [state] = await joins.upsertMany([
      { id: '1', side: 'price', record: aPrice('1'), version: 1 },
    ]);
    expect(Object.keys(state?.sides ?? {}).sort()).toEqual(['customer', 'inventory', 'price']);
    expect((await joins.stats()).pending).toBe(0);
  });

  it('keeps an emitted id pending but no longer due, and says so in its state', async () => {
    const joins = store({ required: THREE, clock: { now: 10 } });
    await joins.upsertMany([{ id: '1', side: 'customer', record: aCustomer('1'), version: 1 }]);
    const look = await joins.look('1');
    expect(look).toEqual({
      status: 'pending',
      firstSeenMs: 10,
      state: { sides: { customer: aCustomer('1') }, emitted: false },
    });
    await joins.markEmitted('1');
    expect(await joins.due(100, 10)).toEqual([]);
    expect((await joins.stats()).pending).toBe(1);
    const [state] = await joins.upsertMany([
      { id: '1', side: 'inventory', record: aProduct('1'), version: 1 },
    ]);
    expect(state?.emitted).toBe(true);
    expect(await joins.due(100, 10)).toEqual([]);
  });

  it("keeps each side's origin with the side, so a join across batches names both", async () => {
    const joins = two();
    const crm = { topic: 'customer_data', partition: 2, offset: '41', correlationId: 'run-a' };
    const inv = { topic: 'inventory_data', partition: 0, offset: '7', correlationId: 'run-b' };
    const [half] = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1'), version: 5, origin: crm },
    ]);
    expect(half?.origins).toEqual({ customer: crm });
    const look = await joins.look('1');
    expect(look.status === 'pending' && look.state.origins).toEqual({ customer: crm });
    // Another batch, another invocation: the stored side's origin comes back with it.
    const [whole] = await joins.upsertMany([
      { id: '1', side: 'inventory', record: aProduct('1'), version: 5, origin: inv },
    ]);
    expect(whole?.origins).toEqual({ customer: crm, inventory: inv });
    // A stale side keeps neither its record nor its origin; a newer one replaces both.
    const stale = { ...crm, offset: '3' };
    const [kept] = await joins.upsertMany([
      {
        id: '1',
        side: 'customer',
        record: aCustomer('1', { name: 'Old' }),
        version: 4,
        origin: stale,
      },
    ]);
    expect(kept?.origins?.customer).toEqual(crm);
    const newer = { topic: 'customer_data', partition: 2, offset: '90' };
    const [moved] = await joins.upsertMany([
      { id: '1', side: 'customer', record: aCustomer('1'), version: 6, origin: newer },
    ]);
    expect(moved?.origins).toEqual({ customer: newer, inventory: inv });
    // A side stored with no origin leaves none behind: an origin always describes its record.
    const [bare] = await joins.upsertMany([
      { id: '1', side: 'inventory', record: aProduct('1'), version: 7 },
    ]);
    expect(bare?.origins).toEqual({ customer: newer });
  });

  it('drops a half only when it is still incomplete and old enough', async () => {
    const clock = { now: 100 };
    const joins = store({ required: TWO, clock });
    await joins.upsertMany([
      { id: 'old', side: 'customer', record: aCustomer('old'), version: 1 },
      { id: 'done', side: 'customer', record: aCustomer('done'), version: 1 },
    ]);
    clock.now = 500;
    await joins.upsertMany([
      { id: 'young', side: 'customer', record: aCustomer('young'), version: 1 },
      { id: 'done', side: 'inventory', record: aProduct('done'), version: 1 },
    ]);
    expect(await joins.drop('young', 200)).toBe(false);
    expect(await joins.drop('done', 200)).toBe(false);
    expect(await joins.drop('old', 200)).toBe(true);
    expect(await joins.look('old')).toEqual({ status: 'gone' });
    expect(await joins.stats()).toEqual({ pending: 1, oldestFirstSeenMs: 500 });
    const [fresh] = await joins.upsertMany([
      { id: 'old', side: 'inventory', record: aProduct('old'), version: 1 },
    ]);
    expect(fresh?.sides).toEqual({ inventory: aProduct('old') });
  });
}
