import { describe, expect, it } from 'vitest';
import { buildMergedPayload, type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import type { Log } from '../../shared/logger.ts';
import type { BatchOutcome, DeadLetter, OnceDelivery } from '../../shared/ports.ts';
import { deliverPayloads } from '../../shared/use-cases/deliver-batches.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { memoryLog } from '../support/in-memory.ts';

const aPayload = (id: string) =>
  buildMergedPayload(id, { customer: aCustomer(id), inventory: aProduct(id) }) as MergedPayload;
const entry = (id: string, headers?: Record<string, string>) => ({
  payload: aPayload(id),
  record: aDecodedRecord('inventory_data', aProduct(id), headers ? { headers } : {}),
});

/** A batch port that answers from `verdicts` (by payload id) and keeps what it was given. */
function batchPort(verdicts: Record<string, BatchOutcome>) {
  const given: { payload: MergedPayload; hash: string }[][] = [];
  const port: OnceDelivery = {
    deliver: () => Promise.reject(new Error('the merge delivers through deliverMany')),
    deliverMany: async (items) => {
      given.push(items.map(({ payload, hash }) => ({ payload, hash })));
      return items.map(({ payload }) => verdicts[payload.id ?? ''] ?? 'posted');
    },
  };
  return { port, given };
}

describe('deliverPayloads', () => {
  it('sends every payload with its hash, answers in order and logs each outcome', async () => {
    const { port, given } = batchPort({ b: 'duplicate', c: 'held' });
    const entries = [entry('a'), entry('b'), entry('c'), entry('d')];
    const log = memoryLog();
    const outcomes = await deliverPayloads(entries, port, log as unknown as Log);
    expect(outcomes).toEqual([
      'posted',
      'duplicate',
      { held: payloadHash(aPayload('c')) },
      'posted',
    ]);
    expect(given).toEqual([
      ['a', 'b', 'c', 'd'].map((id) => ({
        payload: aPayload(id),
        hash: payloadHash(aPayload(id)),
      })),
    ]);
    expect(log.lines.map((line) => [line.level, line.message, line.attributes.id])).toEqual([
      ['info', 'payload delivered', 'a'],
      ['debug', 'payload already delivered', 'b'],
      ['warn', 'payload held by another invocation; its record will be retried', 'c'],
      ['info', 'payload delivered', 'd'],
    ]);
    expect(log.lines[0]?.attributes).toMatchObject({
      topic: 'inventory_data',
      partition: 0,
      correlationId: 'run-1',
      hash: payloadHash(aPayload('a')),
    });
  });

  it('turns a rejected payload into a dead letter with the reason, attempts and correlation id', async () => {
    const { port } = batchPort({
      b: { rejected: 'HTTP 422 bad event', attempts: 2, status: 422 },
      c: 'duplicate',
    });
    const log = memoryLog();
    const before = Date.now();
    const outcomes = await deliverPayloads(
      [entry('a'), entry('b', { 'correlation-id': 'run-9' }), entry('c', {})],
      port,
      log as unknown as Log,
    );
    expect(outcomes.slice(0, 1)).toEqual(['posted']);
    expect(outcomes[2]).toBe('duplicate');
    const letter = outcomes[1] as DeadLetter;
    expect(letter).toEqual({
      payload: aPayload('b'),
      hash: payloadHash(aPayload('b')),
      reason: 'HTTP 422 bad event',
      attempts: 2,
      failedAt: expect.any(String),
      correlationId: 'run-9',
    });
    expect(Date.parse(letter.failedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(letter.failedAt)).toBeLessThanOrEqual(Date.now());
    expect(log.lines.find((line) => line.level === 'error')).toMatchObject({
      message: 'payload dead-lettered',
      attributes: { id: 'b', reason: 'HTTP 422 bad event', correlationId: 'run-9' },
    });
  });

  it('leaves the correlation id out of a dead letter whose record had none', async () => {
    const { port } = batchPort({ a: { rejected: 'HTTP 400', attempts: 1 } });
    const [letter] = await deliverPayloads([entry('a', {})], port, memoryLog() as unknown as Log);
    expect(letter).not.toHaveProperty('correlationId');
    expect(letter).toMatchObject({ reason: 'HTTP 400', attempts: 1 });
  });

  it('fails, naming the hash, when the port gives fewer outcomes than payloads', async () => {
    const short: OnceDelivery = {
      ...batchPort({}).port,
      deliverMany: async () => ['posted'],
    };
    await expect(
      deliverPayloads([entry('a'), entry('b')], short, memoryLog() as never),
    ).rejects.toThrow(`batch delivery gave no outcome for ${payloadHash(aPayload('b'))}`);
  });
});
