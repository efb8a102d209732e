import { describe, expect, it } from 'vitest';
import { type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import type { BatchOutcome, OnceDelivery } from '../../shared/ports.ts';
import { mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { memoryMergeDeps } from '../support/merge-deps.ts';

const fromRun = (correlationId: string) => ({
  headers: { 'correlation-id': correlationId, 'fetched-at': new Date().toISOString() },
});
const lineageLines = (log: ReturnType<typeof memoryMergeDeps>['log']) =>
  log.lines.filter((line) => line.message === 'payload lineage');

/** A batch port that answers from `verdicts` (by payload id), keeping the hashes it was given. */
function batchPort(verdicts: Record<string, BatchOutcome>) {
  const hashes: string[] = [];
  const port: OnceDelivery = {
    deliver: () => Promise.reject(new Error('batch mode delivers through deliverMany')),
    deliverMany: async (items) => {
      hashes.push(...items.map((item) => item.hash));
      return items.map(({ payload }) => verdicts[payload.id ?? ''] ?? 'posted');
    },
  };
  return { port, hashes };
}

describe('payload lineage', () => {
  it('names both origins of a payload whose sides came in different batches and fetch runs', async () => {
    const { deps, analytics, log } = memoryMergeDeps();
    const customer = aDecodedRecord('customer_data', aCustomer('1'), fromRun('run-crm'));
    const product = aDecodedRecord('inventory_data', aProduct('1'), fromRun('run-inv'));
    await mergeBatch([customer], deps);
    expect(lineageLines(log)).toEqual([]);
    await mergeBatch([product], deps);

    const [payload] = analytics.received;
    expect(lineageLines(log)).toEqual([
      {
        level: 'info',
        message: 'payload lineage',
        attributes: {
          id: '1',
          hash: payloadHash(payload as MergedPayload),
          outcome: 'posted',
          sides: {
            customer: {
              topic: 'customer_data',
              partition: 0,
              offset: customer.offset,
              correlationId: 'run-crm',
            },
            inventory: {
              topic: 'inventory_data',
              partition: 0,
              offset: product.offset,
              correlationId: 'run-inv',
            },
          },
        },
      },
    ]);
    // The same hash as the delivery's own line: one key from the lineage to the Analytics answer.
    const delivered = log.lines.find((line) => line.message === 'payload delivered');
    expect(delivered?.attributes.hash).toBe(lineageLines(log)[0]?.attributes.hash);
  });

  it('writes no lineage for a payload delivered before, and one for a dead-lettered one', async () => {
    const { deps, analytics, log } = memoryMergeDeps();
    const batch = () => [
      aDecodedRecord('customer_data', aCustomer('1'), fromRun('a')),
      aDecodedRecord('inventory_data', aProduct('1'), fromRun('a')),
      aDecodedRecord('customer_data', aCustomer('2'), fromRun('a')),
      aDecodedRecord('inventory_data', aProduct('2'), fromRun('a')),
    ];
    analytics.refuse.add('2');
    await mergeBatch(batch(), deps);
    expect(lineageLines(log).map((line) => line.attributes.outcome)).toEqual([
      'posted',
      'dead-lettered',
    ]);
    analytics.refuse.clear();
    log.lines.length = 0;
    await mergeBatch(batch(), deps);
    // Id 1 was delivered: no second lineage; id 2 is delivered now, with the sides of this batch.
    expect(lineageLines(log).map((line) => [line.attributes.id, line.attributes.outcome])).toEqual([
      ['2', 'posted'],
    ]);
  });

  it('keys the lineage by the hash the batch delivery sent as the event id', async () => {
    const { port, hashes } = batchPort({ '2': 'duplicate' });
    const { deps, log } = memoryMergeDeps({ delivery: port });
    await mergeBatch(
      [
        aDecodedRecord('customer_data', aCustomer('1'), fromRun('a')),
        aDecodedRecord('inventory_data', aProduct('1'), fromRun('b')),
        aDecodedRecord('customer_data', aCustomer('2'), fromRun('a')),
        aDecodedRecord('inventory_data', aProduct('2'), fromRun('b')),
      ],
      deps,
    );
    const lines = lineageLines(log);
    expect(lines.map((line) => line.attributes.hash)).toEqual([hashes[0]]);
    expect(lines[0]?.attributes.sides).toMatchObject({
      customer: { correlationId: 'a' },
      inventory: { correlationId: 'b' },
    });
  });

  it('leaves the correlation id out of an origin whose record carried none', async () => {
    const { deps, log } = memoryMergeDeps();
    await mergeBatch(
      [
        aDecodedRecord('customer_data', aCustomer('1'), { headers: {} }),
        aDecodedRecord('inventory_data', aProduct('1'), fromRun('b')),
      ],
      deps,
    );
    const sides = lineageLines(log)[0]?.attributes.sides as Record<string, object>;
    expect(sides.customer).not.toHaveProperty('correlationId');
    expect(sides.inventory).toHaveProperty('correlationId', 'b');
  });
});
