import { beforeEach, describe, expect, it } from 'vitest';
import type { DecodedRecord } from '../../shared/domain/kafka-record.ts';
import { payloadHash } from '../../shared/domain/merge.ts';
import type { OnceDelivery } from '../../shared/ports.ts';
import { type MergeDeps, mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { CountingCache } from '../support/counting-cache.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { type MemoryAnalytics, MemoryCache, type MemorySinks } from '../support/in-memory.ts';
import { memoryMergeDeps } from '../support/merge-deps.ts';

/** A decoded record of a source topic, keyed by its id unless `key` says otherwise. */
const aRecord = (
  topic: 'customer_data' | 'inventory_data',
  value: unknown,
  key?: string | null,
): DecodedRecord => aDecodedRecord(topic, value, key === undefined ? {} : { key });

let analytics: MemoryAnalytics;
let sinks: MemorySinks;
let cache: CountingCache;
let deps: MergeDeps;

beforeEach(() => {
  cache = new CountingCache(new MemoryCache());
  ({ deps, analytics, sinks } = memoryMergeDeps({ concurrency: 4 }, cache));
});

describe('mergeBatch', () => {
  it('posts one payload per id once both sides are known', async () => {
    const first = await mergeBatch([aRecord('customer_data', aCustomer('1'))], deps);
    expect(first).toMatchObject({ merged: 0, waiting: 1, posted: 0 });
    const second = await mergeBatch([aRecord('inventory_data', aProduct('1'))], deps);
    expect(second).toMatchObject({ merged: 1, posted: 1 });
    expect(analytics.received).toEqual([
      { id: '1', customer: aCustomer('1'), inventory: aProduct('1') },
    ]);
  });

  it('costs one key read and no claim per payload of a batch that was all delivered before', async () => {
    const batch = () => [
      aRecord('customer_data', aCustomer('1')),
      aRecord('inventory_data', aProduct('1')),
      aRecord('customer_data', aCustomer('2')),
      aRecord('inventory_data', aProduct('2')),
    ];
    await mergeBatch(batch(), deps);
    expect(cache).toMatchObject({ claims: 2, writes: 2 });
    const before = { claims: cache.claims, writes: cache.writes, keysRead: cache.keysRead };
    const again = await mergeBatch(batch(), deps);
    expect(again).toMatchObject({ merged: 2, posted: 0, duplicates: 2 });
    expect({
      claims: cache.claims - before.claims,
      writes: cache.writes - before.writes,
      keysRead: cache.keysRead - before.keysRead,
    }).toEqual({ claims: 0, writes: 0, keysRead: 2 });
    expect(analytics.received).toHaveLength(2);
  });

  it('skips a payload it has delivered before', async () => {
    await mergeBatch(
      [aRecord('customer_data', aCustomer('1')), aRecord('inventory_data', aProduct('1'))],
      deps,
    );
    const again = await mergeBatch([aRecord('customer_data', aCustomer('1'))], deps);
    expect(again).toMatchObject({ posted: 0, duplicates: 1 });
    expect(analytics.received).toHaveLength(1);
  });

  it('collapses an id repeated in one batch to its latest version', async () => {
    await mergeBatch([aRecord('inventory_data', aProduct('1'))], deps);
    const summary = await mergeBatch(
      [
        aRecord(
          'customer_data',
          aCustomer('1', { name: 'Old', updatedAt: '2025-01-01T00:00:00Z' }),
        ),
        aRecord(
          'customer_data',
          aCustomer('1', { name: 'New', updatedAt: '2025-02-01T00:00:00Z' }),
        ),
      ],
      deps,
    );
    expect(summary).toMatchObject({ records: 2, merged: 1, posted: 1 });
    expect(analytics.received[0]?.customer.name).toBe('New');
  });

  it('keeps the newer side when an older update arrives late', async () => {
    await mergeBatch([aRecord('inventory_data', aProduct('1'))], deps);
    await mergeBatch(
      [
        aRecord(
          'customer_data',
          aCustomer('1', { name: 'New', updatedAt: '2025-02-01T00:00:00Z' }),
        ),
      ],
      deps,
    );
    const late = await mergeBatch(
      [
        aRecord(
          'customer_data',
          aCustomer('1', { name: 'Old', updatedAt: '2025-01-01T00:00:00Z' }),
        ),
      ],
      deps,
    );
    expect(late).toMatchObject({ posted: 0, duplicates: 1 });
    expect(analytics.received.map((payload) => payload.customer.name)).toEqual(['New']);
  });

  it('quarantines bad records with their reason and place, and merges the rest', async () => {
    const summary = await mergeBatch(
      [
        aRecord('customer_data', 'not json', 'x'),
        aRecord('customer_data', { name: 'No Id', email: 'a@b.co' }, null),
        aRecord('customer_data', { id: 7.5, name: 'Fraction', email: 'a@b.co' }, '7.5'),
        aRecord('customer_data', aCustomer('2'), 'other-key'),
        aRecord('customer_data', aCustomer('3', { name: 'x'.repeat(3_000) })),
        aRecord('customer_data', aCustomer('1')),
        aRecord('inventory_data', aProduct('1')),
      ],
      deps,
    );
    expect(summary).toMatchObject({ records: 7, quarantined: 5, posted: 1 });
    expect(sinks.quarantined.map((entry) => entry.reason)).toEqual([
      'value is not JSON',
      'id: is required',
      'id: 7.5 is not an integer',
      'key "other-key" does not match id "2"',
      expect.stringMatching(/^record is 30\d\d bytes, over the 2000-byte limit$/),
    ]);
    expect(sinks.quarantined[0]).toMatchObject({
      stage: 'merge',
      topic: 'customer_data',
      partition: 0,
      raw: 'not json',
    });
  });

  it('dead-letters what Analytics refuses, and delivers it on a later replay', async () => {
    analytics.refuse.add('1');
    const summary = await mergeBatch(
      [aRecord('customer_data', aCustomer('1')), aRecord('inventory_data', aProduct('1'))],
      deps,
    );
    expect(summary).toMatchObject({ posted: 0, deadLettered: 1 });
    const [letter] = sinks.deadLetters;
    expect(letter).toMatchObject({
      reason: 'POST to Analytics failed after 3 attempt(s): HTTP 503',
      attempts: 3,
    });
    expect(letter?.hash).toBe(payloadHash(letter?.payload ?? ({} as never)));

    analytics.refuse.clear();
    const replay = await mergeBatch([aRecord('customer_data', aCustomer('1'))], deps);
    expect(replay).toMatchObject({ posted: 1, duplicates: 0 });
  });

  it('fails the whole batch when the join store fails, so it is retried', async () => {
    deps.joinStore = { upsertMany: () => Promise.reject(new Error('Redis connection lost')) };
    await expect(mergeBatch([aRecord('customer_data', aCustomer('1'))], deps)).rejects.toThrow(
      'Redis connection lost',
    );
  });

  it('lets the event loop turn while it validates a large batch, so answers in flight are read', async () => {
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    let turnsBeforeJoin = -1;
    const joinStore = deps.joinStore;
    deps.joinStore = {
      upsertMany: (upserts) => {
        turnsBeforeJoin = turns;
        return joinStore.upsertMany(upserts);
      },
    };
    const batch = Array.from({ length: 1_000 }, (_, i) =>
      aRecord('customer_data', aCustomer(String(i))),
    );
    try {
      await mergeBatch(batch, deps);
    } finally {
      ticking = false;
    }
    // Validation runs in chunks; between two of them the loop polls the network (3 of 4 gaps).
    expect(turnsBeforeJoin).toBeGreaterThanOrEqual(3);
  });
});

describe('mergeBatch on a batch of several parts', () => {
  const pairs = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => [
      aRecord('customer_data', aCustomer(String(from + i))),
      aRecord('inventory_data', aProduct(String(from + i))),
    ]).flat();

  /** A batch port that records the payload ids of each call and how many calls overlapped. */
  function batchPort(fail?: (ids: string[]) => boolean) {
    const calls: string[][] = [];
    const finished: string[][] = [];
    let inFlight = 0;
    const seen = { most: 0 };
    const port: OnceDelivery = {
      deliver: () => Promise.reject(new Error('the merge delivers through deliverMany')),
      deliverMany: async (items) => {
        const ids = items.map(({ payload }) => String(payload.id));
        calls.push(ids);
        seen.most = Math.max(seen.most, ++inFlight);
        try {
          if (fail?.(ids)) throw new Error('Redis is gone');
          await new Promise((resolve) => setTimeout(resolve, 10));
          finished.push(ids);
          return items.map(() => 'posted' as const);
        } finally {
          inFlight--;
        }
      },
    };
    return { port, calls, finished, seen };
  }

  it('sends every part of the join upsert before the first is delivered, in parts of 1,000', async () => {
    const joinStore = deps.joinStore;
    const upserts: number[] = [];
    let upsertsBeforeDelivery = -1;
    const { port, calls } = batchPort();
    deps.joinStore = {
      upsertMany: (items) => {
        upserts.push(items.length);
        return joinStore.upsertMany(items);
      },
    };
    deps.delivery = {
      ...port,
      deliverMany: (items) => {
        if (upsertsBeforeDelivery < 0) upsertsBeforeDelivery = upserts.length;
        return port.deliverMany(items);
      },
    } as OnceDelivery;
    const summary = await mergeBatch(pairs(1, 1_250), deps);
    expect(upserts).toEqual([1_000, 1_000, 500]);
    expect(upsertsBeforeDelivery).toBe(3);
    // Each id's two records in one part or across two: one payload, delivered with its part.
    expect(calls.flat()).toEqual(Array.from({ length: 1_250 }, (_, i) => String(i + 1)));
    expect(summary).toMatchObject({ records: 2_500, merged: 1_250, waiting: 0, posted: 1_250 });
  });

  it('builds an id repeated across parts once, from its last upsert', async () => {
    const { port, calls } = batchPort();
    deps.delivery = port;
    const renamed = aCustomer('7', { name: 'Renamed' });
    const batch = [...pairs(1, 600), aRecord('customer_data', renamed)];
    const delivered: unknown[] = [];
    deps.delivery = {
      ...port,
      deliverMany: (items) => {
        delivered.push(...items.map(({ payload }) => payload));
        return port.deliverMany(items);
      },
    } as OnceDelivery;
    const summary = await mergeBatch(batch, deps);
    expect(calls.flat().filter((id) => id === '7')).toEqual(['7']);
    expect(delivered.find((payload) => (payload as { id: string }).id === '7')).toEqual({
      id: '7',
      customer: renamed,
      inventory: aProduct('7'),
    });
    expect(summary).toMatchObject({ merged: 600, posted: 600 });
  });

  it('delivers two parts at a time in batch mode', async () => {
    const { port, seen } = batchPort();
    deps.delivery = port;
    await mergeBatch(pairs(1, 2_000), deps);
    expect(seen.most).toBe(2);
  });

  it('lets the part in flight finish before it fails the batch, and starts no other part', async () => {
    const { port, calls, finished } = batchPort((ids) => ids.includes('700'));
    deps.delivery = port;
    // Parts: records 1..1000 (ids 1-500), 1001..2000 (ids 501-1000, the failing one), and more.
    await expect(mergeBatch(pairs(1, 2_500), deps)).rejects.toThrow('Redis is gone');
    expect(calls.map((ids) => ids[0])).toEqual(['1', '501']);
    expect(finished.map((ids) => ids[0])).toEqual(['1']);
  });

  it('delivers no part whose earlier parts were not all applied, and leaves no rejection unhandled', async () => {
    const joinStore = deps.joinStore;
    let calls = 0;
    // Part 1 fails late (its connection dropped); part 2 is answered at once, part 3 fails at once.
    deps.joinStore = {
      upsertMany: (upserts) => {
        const call = calls++;
        if (call === 1) {
          return new Promise((_, reject) =>
            setTimeout(() => reject(new Error('Connection is closed.')), 40),
          );
        }
        if (call === 3) return Promise.reject(new Error('Connection is closed.'));
        return joinStore.upsertMany(upserts);
      },
    };
    const { port, calls: delivered } = batchPort();
    deps.delivery = port;
    await expect(mergeBatch(pairs(1, 2_000), deps)).rejects.toThrow('Connection is closed.');
    // Part 0 (ids 1-500) was delivered; part 2's states came back but were not used.
    expect(delivered.map((ids) => ids[0])).toEqual(['1']);
  });

  it('fails the batch when the join store answers fewer states than it was given', async () => {
    const joinStore = deps.joinStore;
    deps.joinStore = {
      upsertMany: async (items) => (await joinStore.upsertMany(items)).slice(1),
    };
    await expect(mergeBatch(pairs(1, 2), deps)).rejects.toThrow(
      'join store answered 3 states for 4 upserts',
    );
  });
});
