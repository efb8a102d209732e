import { describe, expect, it } from 'vitest';
import { payloadHash } from '../../shared/domain/merge.ts';
import type { DeadLetter, PayloadDelivery, PendingIndex } from '../../shared/ports.ts';
import { mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { sweepPending } from '../../shared/use-cases/sweep-pending.ts';
import { aCustomer } from '../support/factories.ts';
import { MemoryJoinStore, type memoryLog } from '../support/in-memory.ts';
import { aThreeSidedRecord, threeSidedDeps } from '../support/three-sources.ts';

/** The sweeper on a three-sided join (customer, inventory, price all required), in memory. */
function setup(missing: string, clock = { now: 0 }) {
  const store = new MemoryJoinStore({ required: ['customer', 'inventory', 'price'] }, () => {
    return clock.now;
  });
  const deps = threeSidedDeps({ sides: { pricing: 'price' }, missing }, store, clock);
  const lines = (deps.sweep.log as unknown as ReturnType<typeof memoryLog>).lines;
  return { clock, store, lines, ...deps };
}

/** The store's pending index, with `between` run after due() answered (another merge racing). */
function racing(store: MemoryJoinStore, between: () => Promise<void>): PendingIndex {
  return {
    due: async (cutoff, limit) => {
      const due = await store.due(cutoff, limit);
      await between();
      return due;
    },
    look: (id) => store.look(id),
    markEmitted: (id) => store.markEmitted(id),
    drop: (id, cutoff) => store.drop(id, cutoff),
    stats: () => store.stats(),
    prune: (limit) => store.prune(limit),
    list: (limit) => store.list(limit),
  };
}

describe('sweepPending, emit after', () => {
  it('names the join and policy, and counts an id completed between due and look as settled, not emitted', async () => {
    const { merge, sweep, clock, store, analytics } = setup('emit after 1s');
    await mergeBatch(
      [aThreeSidedRecord('customer', '1'), aThreeSidedRecord('customer', '2')],
      merge,
    );
    clock.now = 5_000;
    const completeTwo = async () => {
      await mergeBatch(
        [aThreeSidedRecord('inventory', '2'), aThreeSidedRecord('price', '2')],
        merge,
      );
    };
    const summary = await sweepPending({ ...sweep, pending: racing(store, completeTwo) });
    expect(summary).toMatchObject({
      join: sweep.join.name,
      policy: 'emit',
      due: 2,
      emitted: 1,
      duplicates: 0,
      settled: 1,
      dropped: 0,
      deadLettered: 0,
      pending: 1,
    });
    // The complete payload of 2 came from the merge; the sweeper sent only the partial one of 1.
    expect(analytics.received.map((payload) => [payload.id, payload.inventory === null])).toEqual([
      ['2', false],
      ['1', true],
    ]);
  });

  it('counts an id whose join state expired (the index outlived it) as settled and forgets it', async () => {
    const { merge, sweep, clock, store, analytics } = setup('emit after 1s');
    await mergeBatch([aThreeSidedRecord('customer', '1')], merge);
    store.rows.delete('1');
    clock.now = 5_000;
    expect(await sweepPending(sweep)).toMatchObject({ due: 1, emitted: 0, settled: 1, pending: 0 });
    expect(analytics.received).toEqual([]);
  });

  it('acts on at most `limit` due ids a sweep, the oldest first; the next sweep takes the rest', async () => {
    const { merge, sweep, clock, analytics } = setup('emit after 1s');
    for (const id of ['a', 'b', 'c']) {
      await mergeBatch([aThreeSidedRecord('customer', id)], merge);
      clock.now += 100;
    }
    clock.now = 10_000;
    expect(await sweepPending({ ...sweep, limit: 2 })).toMatchObject({ due: 2, emitted: 2 });
    expect(analytics.received.map((payload) => payload.id).sort()).toEqual(['a', 'b']);
    expect(await sweepPending({ ...sweep, limit: 2 })).toMatchObject({ due: 1, emitted: 1 });
    expect(analytics.received.map((payload) => payload.id).sort()).toEqual(['a', 'b', 'c']);
  });

  it('acts only on ids first seen at least the grace period before the sweep', async () => {
    const { merge, sweep, clock } = setup('emit after 10s');
    clock.now = 1_000;
    await mergeBatch([aThreeSidedRecord('customer', 'old')], merge);
    clock.now = 5_000;
    await mergeBatch([aThreeSidedRecord('customer', 'young')], merge);
    clock.now = 11_000;
    expect(await sweepPending(sweep)).toMatchObject({ due: 1, emitted: 1, pending: 2 });
    clock.now = 15_000;
    expect(await sweepPending(sweep)).toMatchObject({ due: 1, emitted: 1, pending: 2 });
  });

  it('logs each partial delivery with the id, its hash, the join and the sides still missing', async () => {
    const { merge, sweep, clock, lines, analytics } = setup('emit after 1s');
    await mergeBatch([aThreeSidedRecord('price', '7')], merge);
    clock.now = 5_000;
    await sweepPending(sweep);
    const [payload] = analytics.received;
    expect(lines.find((line) => line.message === 'partial payload delivered')).toEqual({
      level: 'info',
      message: 'partial payload delivered',
      attributes: {
        id: '7',
        hash: payloadHash(payload ?? {}),
        join: sweep.join.name,
        missing: ['customer', 'inventory'],
      },
    });
  });

  it('keeps a dead letter with the payload, its hash, the reason, the attempts and the time of the sweep', async () => {
    const { merge, sweep, clock, sinks, analytics, lines } = setup('emit after 1s');
    analytics.refuse.add('1');
    await mergeBatch([aThreeSidedRecord('customer', '1')], merge);
    clock.now = 5_000;
    expect(await sweepPending(sweep)).toMatchObject({
      due: 1,
      emitted: 0,
      duplicates: 0,
      deadLettered: 1,
    });
    const payload = { id: '1', customer: aCustomer('1'), inventory: null, price: null };
    expect(sinks.deadLetters).toEqual([
      {
        payload,
        hash: payloadHash(payload),
        reason: 'POST to Analytics failed after 3 attempt(s): HTTP 503',
        attempts: 3,
        failedAt: new Date(5_000).toISOString(),
      } satisfies DeadLetter,
    ]);
    expect(lines.find((line) => line.message === 'payload dead-lettered')).toMatchObject({
      level: 'error',
      attributes: {
        id: '1',
        hash: payloadHash(payload),
        reason: expect.stringMatching(/HTTP 503$/),
      },
    });
  });

  it('fails when the dead-letter sink fails, and the refused id stays due so the next sweep keeps it', async () => {
    const { merge, sweep, clock, sinks, analytics } = setup('emit after 1s');
    analytics.refuse.add('1');
    await mergeBatch([aThreeSidedRecord('customer', '1')], merge);
    clock.now = 5_000;
    const broken = { send: () => Promise.reject(new Error('SQS unreachable')) };
    await expect(sweepPending({ ...sweep, deadLetter: broken })).rejects.toThrow(/SQS unreachable/);
    expect(await sweepPending(sweep)).toMatchObject({ due: 1, deadLettered: 1 });
    expect(sinks.deadLetters).toHaveLength(1);
    expect((await sweepPending(sweep)).due).toBe(0);
  });

  it('fails on a delivery error that is not a refusal (Redis down), and the id stays due', async () => {
    const { merge, sweep, clock, sinks, analytics } = setup('emit after 1s');
    await mergeBatch([aThreeSidedRecord('customer', '1')], merge);
    clock.now = 5_000;
    const down: PayloadDelivery = {
      deliver: () => Promise.reject(new Error('Redis down')),
      delivered: async (payloads) => payloads.map(() => false),
    };
    await expect(sweepPending({ ...sweep, delivery: down })).rejects.toThrow(/Redis down/);
    expect(sinks.deadLetters).toEqual([]);
    expect(await sweepPending(sweep)).toMatchObject({ due: 1, emitted: 1 });
    expect(analytics.received).toHaveLength(1);
  });

  it('measures its duration and the oldest age on its own clock, never a negative age', async () => {
    const { merge, sweep, clock, analytics } = setup('emit after 1s');
    await mergeBatch([aThreeSidedRecord('customer', '1')], merge);
    clock.now = 5_000;
    const slow: PayloadDelivery = {
      deliver: async (payload) => {
        clock.now += 250;
        await analytics.post(payload);
        return 'posted';
      },
      delivered: async (payloads) => payloads.map(() => false),
    };
    expect(await sweepPending({ ...sweep, delivery: slow })).toMatchObject({
      emitted: 1,
      durationMs: 250,
      oldestAgeMs: 5_250,
    });
    // A sweeper whose clock is behind the merge's (first seen "in the future") reports age 0.
    expect(await sweepPending({ ...sweep, now: () => -1_000 })).toMatchObject({
      pending: 1,
      oldestAgeMs: 0,
    });
  });
  it('costs no dead-letter write when Analytics refused nothing', async () => {
    const { merge, sweep, clock } = setup('emit after 1s');
    await mergeBatch([aThreeSidedRecord('customer', '1')], merge);
    clock.now = 5_000;
    const untouchable = { send: () => Promise.reject(new Error('nothing was refused')) };
    expect(await sweepPending({ ...sweep, deadLetter: untouchable })).toMatchObject({
      emitted: 1,
      deadLettered: 0,
    });
  });

  it('marks as emitted exactly the ids it delivered or dead-lettered', async () => {
    const { merge, sweep, clock, store, analytics } = setup('emit after 1s');
    analytics.refuse.add('2');
    await mergeBatch(
      ['1', '2'].map((id) => aThreeSidedRecord('customer', id)),
      merge,
    );
    clock.now = 5_000;
    const marked: string[] = [];
    const recording: PendingIndex = {
      ...racing(store, async () => {}),
      markEmitted: (id) => {
        marked.push(id);
        return store.markEmitted(id);
      },
    };
    await sweepPending({ ...sweep, pending: recording });
    expect(marked.sort()).toEqual(['1', '2']);
  });
});

describe('sweepPending, drop after', () => {
  it('counts a half completed between due and drop as settled and delivers it whole', async () => {
    const { merge, sweep, clock, store, analytics, lines } = setup('drop after 1s');
    await mergeBatch(
      [aThreeSidedRecord('customer', '1'), aThreeSidedRecord('customer', '2')],
      merge,
    );
    clock.now = 5_000;
    const completeTwo = async () => {
      await mergeBatch(
        [aThreeSidedRecord('inventory', '2'), aThreeSidedRecord('price', '2')],
        merge,
      );
    };
    expect(await sweepPending({ ...sweep, pending: racing(store, completeTwo) })).toMatchObject({
      policy: 'drop',
      due: 2,
      dropped: 1,
      settled: 1,
      emitted: 0,
      pending: 0,
    });
    expect(analytics.received.map((payload) => payload.id)).toEqual(['2']);
    expect(
      lines.filter((line) => line.message === 'pending id dropped').map((line) => line.attributes),
    ).toEqual([{ id: '1', join: sweep.join.name }]);
  });
});

describe('sweepPending, wait', () => {
  it('costs no read of the due ids: only the prune of expired ids, the pending count and the oldest age', async () => {
    const { merge, sweep, clock, store } = setup('wait');
    await mergeBatch([aThreeSidedRecord('customer', '1')], merge);
    clock.now = 7_000;
    const refuse = () => Promise.reject(new Error('the wait policy reads no due id'));
    const statsOnly: PendingIndex = {
      due: refuse,
      look: refuse,
      markEmitted: refuse,
      drop: refuse,
      list: refuse,
      prune: (limit) => store.prune(limit),
      stats: () => store.stats(),
    };
    expect(await sweepPending({ ...sweep, pending: statsOnly })).toEqual({
      join: sweep.join.name,
      policy: 'wait',
      due: 0,
      emitted: 0,
      duplicates: 0,
      dropped: 0,
      settled: 0,
      deadLettered: 0,
      pending: 1,
      oldestAgeMs: 7_000,
      durationMs: 0,
    });
  });

  it('reports no oldest age when nothing is pending', async () => {
    const { sweep } = setup('wait');
    expect(await sweepPending(sweep)).toMatchObject({ pending: 0, oldestAgeMs: null });
  });
});
