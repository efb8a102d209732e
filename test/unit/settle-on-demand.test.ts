import { describe, expect, it } from 'vitest';
import { RedisOrMemoryAttemptCounter } from '../../shared/adapters/attempt-counter.ts';
import { FAILED_HEADERS } from '../../shared/domain/failed-batch.ts';
import type { DecodedRecord } from '../../shared/domain/kafka-record.ts';
import type { OutboundMessage, Publisher } from '../../shared/ports.ts';
import {
  batchIdentityOf,
  FailedBatchWriteError,
  HeldRecordsError,
  settleOnDemand,
} from '../../shared/use-cases/settle-on-demand.ts';

const record = (offset: number, partition = 0): DecodedRecord => ({
  topic: 'customer_data',
  partition,
  offset: String(offset),
  timestamp: 0,
  key: `k${offset}`,
  value: `{"id":${offset}}`,
  headers: {},
});

class CapturingPublisher implements Publisher {
  sent: { topic: string; messages: OutboundMessage[] }[] = [];
  constructor(private readonly failing = false) {}
  async publish(topic: string, messages: OutboundMessage[]): Promise<void> {
    if (this.failing) throw new Error('broker down');
    this.sent.push({ topic, messages });
  }
}

const batch = [record(5), record(6), record(9, 1)];
const held = async () => ({ retry: [{}] });
const deps = (publisher: Publisher, retryAttempts = 2) => ({
  attempts: new RedisOrMemoryAttemptCounter(() => undefined, { prefix: 't:', ttlSeconds: 60 }),
  publisher,
  retryAttempts,
});

describe('settleOnDemand', () => {
  it('identifies a batch by the first offset of each partition', () => {
    expect(batchIdentityOf(batch)).toBe('customer_data-0@5,customer_data-1@9');
    expect(batchIdentityOf([record(6), record(5)])).toBe('customer_data-0@5');
  });

  it('resolves done when nothing is held', async () => {
    const publisher = new CapturingPublisher();
    await expect(
      settleOnDemand(batch, async () => ({ retry: [] }), deps(publisher)),
    ).resolves.toEqual({
      outcome: 'done',
    });
    expect(publisher.sent).toEqual([]);
  });

  it('throws on held records until the budget is spent, then writes the batch to its failed topic', async () => {
    const publisher = new CapturingPublisher();
    const d = deps(publisher, 2);
    await expect(settleOnDemand(batch, held, d)).rejects.toBeInstanceOf(HeldRecordsError);
    await expect(settleOnDemand(batch, held, d)).rejects.toBeInstanceOf(HeldRecordsError);
    expect(publisher.sent).toEqual([]);
    const outcome = await settleOnDemand(batch, held, d);
    expect(outcome).toMatchObject({ outcome: 'gave-up', failedRecords: 3 });
    expect(publisher.sent).toHaveLength(1);
    const [sent] = publisher.sent;
    expect(sent?.topic).toBe('failed_customer_data');
    expect(sent?.messages.map((m) => m.key)).toEqual(['k5', 'k6', 'k9']);
    expect(sent?.messages[2]?.headers?.[FAILED_HEADERS.partition]).toBe('1');
    expect(sent?.messages[0]?.headers?.[FAILED_HEADERS.attempts]).toBe('3');
  });

  it('counts a thrown attempt like a held one and rethrows it', async () => {
    const publisher = new CapturingPublisher();
    const boom = new Error('redis down');
    await expect(
      settleOnDemand(batch, async () => Promise.reject(boom), deps(publisher, 0)),
    ).resolves.toMatchObject({ outcome: 'gave-up', reason: 'redis down' });
    await expect(
      settleOnDemand([record(50)], async () => Promise.reject(boom), deps(publisher, 1)),
    ).rejects.toBe(boom);
  });

  it('throws when the failed topic cannot be written, so the batch is retried', async () => {
    const publisher = new CapturingPublisher(true);
    await expect(settleOnDemand(batch, held, deps(publisher, 0))).rejects.toBeInstanceOf(
      FailedBatchWriteError,
    );
  });

  it('starts counting again after a success', async () => {
    const publisher = new CapturingPublisher();
    const d = deps(publisher, 1);
    await expect(settleOnDemand(batch, held, d)).rejects.toBeInstanceOf(HeldRecordsError);
    await settleOnDemand(batch, async () => ({ retry: [] }), d);
    await expect(settleOnDemand(batch, held, d)).rejects.toBeInstanceOf(HeldRecordsError);
    expect(publisher.sent).toEqual([]);
  });
});
