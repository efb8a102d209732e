import type { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { createMergeHandler } from '../../functions/merge/handler.ts';
import type { MergeReady, MergeRuntime } from '../../functions/merge/runtime.ts';
import { encodeMskEvent } from '../../local/msk-event.ts';
import { RedisOrMemoryAttemptCounter } from '../../shared/adapters/attempt-counter.ts';
import { FAILED_HEADERS } from '../../shared/domain/failed-batch.ts';
import type { DecodedRecord } from '../../shared/domain/kafka-record.ts';
import type { MergedPayload } from '../../shared/domain/merge.ts';
import { DeliveryInProgressError } from '../../shared/errors.ts';
import type {
  BatchOutcome,
  DeliveryItem,
  OnceDelivery,
  OutboundMessage,
  Publisher,
} from '../../shared/ports.ts';
import { mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import {
  FailedBatchWriteError,
  HeldRecordsError,
} from '../../shared/use-cases/settle-on-demand.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { memoryMergeDeps } from '../support/merge-deps.ts';

const records: DecodedRecord[] = [7, 8].map((offset) => ({
  topic: 'run1.customer_data',
  partition: 2,
  offset: String(offset),
  timestamp: 1_700_000_000_000,
  key: `c${offset}`,
  value: JSON.stringify({ id: `c${offset}` }),
  headers: { 'correlation-id': `r${offset}` },
}));
const event = encodeMskEvent(records, { eventSourceArn: 'arn:aws:kafka:x', bootstrapServers: 'b' });

class Capturing implements Publisher {
  sent: { topic: string; messages: OutboundMessage[] }[] = [];
  constructor(public failing = false) {}
  async publish(topic: string, messages: OutboundMessage[]): Promise<void> {
    if (this.failing) throw new Error('broker down');
    this.sent.push({ topic, messages });
  }
}

const silent = { addContext() {}, info() {}, warn() {}, error() {} } as unknown as Logger;

/** A runtime whose Redis never answers: every attempt at the batch fails. */
function redisDown(publisher: Capturing | undefined, metrics: string[]): MergeRuntime {
  return {
    logger: silent,
    metrics: {
      addMetric: (name, _unit, value) => metrics.push(`${name}=${value}`),
      publishStoredMetrics() {},
    },
    analyticsCalls: {
      drain: () => ({ latenciesMs: [], ambiguousRetries: 0 }),
      ambiguousRetries: 0,
    },
    ready: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')),
    ...(publisher && {
      onDemand: {
        attempts: new RedisOrMemoryAttemptCounter(() => undefined, {
          prefix: 't:',
          ttlSeconds: 60,
        }),
        publisher,
        retryAttempts: 2,
        failedTopicFor: (topic: string) => `run1.failed_${topic.slice('run1.'.length)}`,
      },
    }),
    close: async () => {},
  };
}

describe('the merge handler under an on-demand mapping', () => {
  it('provisioned mode: a failing batch throws every time and nothing is written', async () => {
    const merge = createMergeHandler(redisDown(undefined, []));
    for (let i = 0; i < 5; i++) await expect(merge(event)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('on-demand: throws until the retry budget is spent, then writes the records to failed_<topic> and succeeds', async () => {
    const publisher = new Capturing();
    const metrics: string[] = [];
    const merge = createMergeHandler(redisDown(publisher, metrics));
    await expect(merge(event)).rejects.toThrow(/ECONNREFUSED/);
    await expect(merge(event)).rejects.toThrow(/ECONNREFUSED/);
    expect(publisher.sent).toEqual([]);
    const answer = await merge(event);
    expect(answer.batchItemFailures).toEqual([]);
    expect(publisher.sent).toHaveLength(1);
    expect(publisher.sent[0]?.topic).toBe('run1.failed_customer_data');
    expect(publisher.sent[0]?.messages.map((m) => [m.key, m.value])).toEqual(
      records.map((r) => [r.key, r.value]),
    );
    expect(publisher.sent[0]?.messages[0]?.headers).toMatchObject({
      'correlation-id': 'r7',
      [FAILED_HEADERS.offset]: '7',
      [FAILED_HEADERS.partition]: '2',
      [FAILED_HEADERS.reason]: expect.stringContaining('ECONNREFUSED'),
    });
    expect(metrics).toContain('FailedBatchRecords=2');
  });

  it('on-demand: throws when the failed topic cannot be written, so the batch is retried', async () => {
    const publisher = new Capturing(true);
    const metrics: string[] = [];
    const merge = createMergeHandler(redisDown(publisher, metrics));
    await expect(merge(event)).rejects.toThrow(/ECONNREFUSED/);
    await expect(merge(event)).rejects.toThrow(/ECONNREFUSED/);
    await expect(merge(event)).rejects.toBeInstanceOf(FailedBatchWriteError);
    expect(metrics).not.toContain('FailedBatchRecords=2');
    publisher.failing = false;
    await expect(merge(event)).resolves.toMatchObject({
      batchItemFailures: [],
      failedBatchRecords: 2,
    });
    expect(publisher.sent[0]?.messages).toHaveLength(2);
  });
});

describe('the merge handler with a payload held by another invocation', () => {
  /** Another invocation holds the payload of id '2' in progress. */
  class HeldElsewhere implements OnceDelivery {
    posted: string[] = [];
    registerInvocation() {}
    async deliverMany(items: DeliveryItem[]): Promise<BatchOutcome[]> {
      return Promise.all(
        items.map(({ payload, hash }) =>
          this.deliver(payload, hash).catch((error: unknown) => {
            if (error instanceof DeliveryInProgressError) return 'held' as const;
            throw error;
          }),
        ),
      );
    }
    async deliver(payload: MergedPayload, hash: string): Promise<'posted'> {
      if (payload.id === '2') throw new DeliveryInProgressError(hash);
      this.posted.push(payload.id as string);
      return 'posted';
    }
  }

  async function runtimeWithHeld(publisher?: Capturing) {
    const delivery = new HeldElsewhere();
    const { deps } = memoryMergeDeps({ delivery, maxRecordBytes: 10_000 });
    await mergeBatch(
      ['1', '2', '3'].map((id) => aDecodedRecord('inventory_data', aProduct(id))),
      deps,
    );
    const base = redisDown(publisher, []);
    return {
      delivery,
      runtime: { ...base, ready: async () => deps as unknown as MergeReady },
    };
  }
  const customers = ['1', '2', '3'].map((id) => aDecodedRecord('customer_data', aCustomer(id)));
  const customerEvent = encodeMskEvent(customers, { eventSourceArn: 'arn', bootstrapServers: 'b' });

  it('provisioned: answers the held record as a batch item failure', async () => {
    const { runtime, delivery } = await runtimeWithHeld();
    const answer = await createMergeHandler(runtime)(customerEvent);
    expect(answer.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'customer_data-0', offset: Number(customers[1]?.offset) } },
    ]);
    expect(delivery.posted.sort()).toEqual(['1', '3']);
  });

  it('on-demand: finishes the rest, then throws so the whole batch is retried', async () => {
    const { runtime, delivery } = await runtimeWithHeld(new Capturing());
    await expect(createMergeHandler(runtime)(customerEvent)).rejects.toBeInstanceOf(
      HeldRecordsError,
    );
    expect(delivery.posted.sort()).toEqual(['1', '3']);
  });
});
