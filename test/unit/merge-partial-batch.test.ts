import { describe, expect, it } from 'vitest';
import { batchItemFailuresOf } from '../../functions/merge/handler.ts';
import { retryFrom } from '../../local/esm-emulator.ts';
import { OneAtATimeDelivery } from '../../shared/adapters/one-at-a-time-delivery.ts';
import { type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import { DeliveryInProgressError } from '../../shared/errors.ts';
import type { BatchOutcome, OnceDelivery, PayloadDelivery } from '../../shared/ports.ts';
import { type MergeDeps, mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import type { MemorySinks } from '../support/in-memory.ts';
import { memoryMergeDeps } from '../support/merge-deps.ts';

/** A single-mode delivery on which another invocation holds the payloads of `heldIds` in progress. */
class HeldElsewhere implements PayloadDelivery {
  posted: string[] = [];
  constructor(private readonly heldIds: string[]) {}
  async delivered(hashes: string[]) {
    return hashes.map(() => false);
  }
  async deliver(payload: MergedPayload, hash: string): Promise<'posted'> {
    if (this.heldIds.includes(payload.id as string)) throw new DeliveryInProgressError(hash);
    this.posted.push(payload.id as string);
    return 'posted';
  }
}

/** The same in batch mode: held payloads come back 'held', the others posted. */
class HeldElsewhereInBatches extends HeldElsewhere implements OnceDelivery {
  constructor(private readonly held: string[]) {
    super(held);
  }
  async deliverMany(items: { payload: MergedPayload }[]): Promise<BatchOutcome[]> {
    return items.map(({ payload }) => {
      if (this.held.includes(payload.id as string)) return 'held';
      this.posted.push(payload.id as string);
      return 'posted';
    });
  }
}

function depsWith(delivery: OnceDelivery): MergeDeps & { sinks: MemorySinks } {
  const { deps, sinks } = memoryMergeDeps({ delivery, maxRecordBytes: 10_000 });
  return { ...deps, sinks };
}

describe('the merge reports the records it could not finish for a transient reason', () => {
  for (const [mode, delivery] of [
    [
      'one payload at a time',
      () => {
        const single = new HeldElsewhere(['2', '4']);
        return { port: new OneAtATimeDelivery(single, 2), posted: single.posted };
      },
    ],
    [
      'in batch requests',
      () => {
        const port = new HeldElsewhereInBatches(['2', '4']);
        return { port, posted: port.posted };
      },
    ],
  ] as const) {
    it(`${mode}: finishes the rest and hands back each held payload's record`, async () => {
      const { port, posted } = delivery();
      const deps = depsWith(port);
      await mergeBatch(
        ['1', '2', '3', '4'].map((id) => aDecodedRecord('inventory_data', aProduct(id))),
        deps,
      );
      const customers = ['1', '2', '3', '4'].map((id) =>
        aDecodedRecord('customer_data', aCustomer(id)),
      );
      const summary = await mergeBatch(customers, deps);
      expect(summary).toMatchObject({ merged: 4, posted: 2, held: 2, deadLettered: 0 });
      expect(posted.sort()).toEqual(['1', '3']);
      expect(summary.retry).toEqual(
        [customers[1], customers[3]].map((record) => ({
          topic: 'customer_data',
          partition: 0,
          offset: record?.offset,
          hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        })),
      );
      // Held is not refused: nothing goes to the dead-letter path.
      expect(deps.sinks.deadLetters).toEqual([]);
    });
  }

  it('never hands back a refused payload: it is dead-lettered, in both modes', async () => {
    // Single mode: Analytics refuses payload 2 after its retries.
    const single = memoryMergeDeps({ maxRecordBytes: 10_000 });
    single.analytics.refuse.add('2');
    // Batch mode: the sink's answer rejects payload 2's event.
    class RefusingInBatches extends HeldElsewhereInBatches {
      override async deliverMany(items: { payload: MergedPayload }[]): Promise<BatchOutcome[]> {
        return items.map(({ payload }) =>
          payload.id === '2' ? { rejected: 'rejected by Analytics: bad', attempts: 1 } : 'posted',
        );
      }
    }
    const batch = depsWith(new RefusingInBatches([]));
    for (const [mode, deps, sinks] of [
      ['single', single.deps, single.sinks],
      ['batch', batch, batch.sinks],
    ] as const) {
      await mergeBatch(
        ['1', '2'].map((id) => aDecodedRecord('inventory_data', aProduct(id))),
        deps,
      );
      const summary = await mergeBatch(
        ['1', '2'].map((id) => aDecodedRecord('customer_data', aCustomer(id))),
        deps,
      );
      expect({ mode, ...summary }).toMatchObject({ mode, posted: 1, deadLettered: 1, held: 0 });
      expect({ mode, failures: batchItemFailuresOf(summary.retry) }).toEqual({
        mode,
        failures: { batchItemFailures: [] },
      });
      expect(sinks.deadLetters.map((letter) => letter.payload.id)).toEqual(['2']);
    }
  });

  it('reports nothing when every payload finished', async () => {
    const deps = depsWith(new OneAtATimeDelivery(new HeldElsewhere([]), 2));
    const summary = await mergeBatch([aDecodedRecord('customer_data', aCustomer('1'))], deps);
    expect(summary).toMatchObject({ held: 0, retry: [] });
    expect(batchItemFailuresOf(summary.retry)).toEqual({ batchItemFailures: [] });
  });

  it('writes the held records as Kafka batch item failures: "topic-partition" and a numeric offset', () => {
    const hash = payloadHash({ id: '1' } as MergedPayload);
    expect(
      batchItemFailuresOf([
        { topic: 'customer_data', partition: 2, offset: '41', hash },
        { topic: 'customer_data', partition: 0, offset: '7', hash },
        // Two held on one partition: each is reported with its own offset, neither the
        // partition's first nor its last in place of the other.
        { topic: 'inventory_data', partition: 1, offset: '19', hash },
        { topic: 'inventory_data', partition: 1, offset: '23', hash },
      ]),
    ).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: 'customer_data-2', offset: 41 } },
        { itemIdentifier: { partition: 'customer_data-0', offset: 7 } },
        { itemIdentifier: { partition: 'inventory_data-1', offset: 19 } },
        { itemIdentifier: { partition: 'inventory_data-1', offset: 23 } },
      ],
    });
  });

  it('hands back two held records of one partition, from a batch that spans partitions, each at its offset', async () => {
    const port = new HeldElsewhereInBatches(['2', '3']);
    const deps = depsWith(port);
    const onPartition = (record: ReturnType<typeof aDecodedRecord>, partition: number) => ({
      ...record,
      partition,
    });
    await mergeBatch(
      ['1', '2', '3', '4'].map((id) => aDecodedRecord('inventory_data', aProduct(id))),
      deps,
    );
    // Customers 1, 2 and 3 on partition 5, customer 4 on partition 6.
    const customers = ['1', '2', '3', '4'].map((id, i) =>
      onPartition(aDecodedRecord('customer_data', aCustomer(id)), i < 3 ? 5 : 6),
    );
    const summary = await mergeBatch(customers, deps);
    expect(summary).toMatchObject({ posted: 2, held: 2 });
    const [, second, third] = customers;
    expect(batchItemFailuresOf(summary.retry)).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: 'customer_data-5', offset: Number(second?.offset) } },
        { itemIdentifier: { partition: 'customer_data-5', offset: Number(third?.offset) } },
      ],
    });
  });
});

describe('the local event source mapping reads a partial batch response as Lambda does', () => {
  const batch = [5, 6, 7, 8].map((offset) => ({
    ...aDecodedRecord('customer_data', aCustomer(String(offset))),
    partition: 3,
    offset: String(offset),
  }));
  const failure = (partition: string, offset: unknown) => ({
    itemIdentifier: { partition, offset },
  });

  it('retries from the lowest failed offset of the batch', () => {
    expect(
      retryFrom(
        { batchItemFailures: [failure('customer_data-3', 8), failure('customer_data-3', 6)] },
        batch,
      ),
    ).toBe(1);
  });

  it('takes an empty list, or any other answer, as a complete success', () => {
    expect(retryFrom({ batchItemFailures: [] }, batch)).toBeUndefined();
    expect(retryFrom({ posted: 4 }, batch)).toBeUndefined();
    expect(retryFrom(undefined, batch)).toBeUndefined();
  });

  it('fails the whole batch when an identifier names no record of it', () => {
    expect(retryFrom({ batchItemFailures: [failure('customer_data-0', 6)] }, batch)).toBe(
      'invalid',
    );
    expect(retryFrom({ batchItemFailures: [failure('customer_data-3', '6')] }, batch)).toBe(
      'invalid',
    );
    expect(retryFrom({ batchItemFailures: [{}] }, batch)).toBe('invalid');
  });
});
