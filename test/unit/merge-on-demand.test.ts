import type { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { createMergeHandler } from '../../functions/merge/handler.ts';
import type { MergeRuntime } from '../../functions/merge/runtime.ts';
import { encodeMskEvent } from '../../local/msk-event.ts';
import { RedisOrMemoryAttemptCounter } from '../../shared/adapters/attempt-counter.ts';
import { FAILED_HEADERS } from '../../shared/domain/failed-batch.ts';
import type { DecodedRecord } from '../../shared/domain/kafka-record.ts';
import type { OutboundMessage, Publisher } from '../../shared/ports.ts';
import { FailedBatchWriteError } from '../../shared/use-cases/settle-on-demand.ts';

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
    await expect(merge(event)).resolves.toMatchObject({ batchItemFailures: [], failedBatchRecords: 2 });
    expect(publisher.sent[0]?.messages).toHaveLength(2);
  });
});
