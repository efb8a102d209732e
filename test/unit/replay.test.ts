import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createReplayHandler } from '../../functions/replay/handler.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import { buildMergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import type { Log } from '../../shared/logger.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { MemoryAnalytics, MemoryCache, memoryLog } from '../support/in-memory.ts';

const aPayload = (id: string) =>
  buildMergedPayload(id, { customer: aCustomer(id), inventory: aProduct(id) });

function anSqsRecord(messageId: string, body: string): SQSRecord {
  return { messageId, body } as SQSRecord;
}

const letter = (id: string) =>
  JSON.stringify({ payload: aPayload(id), reason: 'HTTP 503', attempts: 5, hash: 'h' });

describe('the replay function (SQS dead-letter queue)', () => {
  it('delivers each letter once, skips delivered ones, and leaves the rest in the queue', async () => {
    const analytics = new MemoryAnalytics();
    const delivery = new IdempotentDelivery({
      cache: new MemoryCache(),
      analytics,
      ttlSeconds: 60,
      keyPrefix: 't:',
    });
    delivery.registerInvocation({ getRemainingTimeInMillis: () => 30_000 });
    const already = aPayload('2');
    if (!already) throw new Error('no payload');
    await delivery.deliver(already, payloadHash(already));
    analytics.refuse.add('4');
    const log = memoryLog();
    const handler = createReplayHandler(async () => ({ delivery, log: log as unknown as Log }));

    const event: SQSEvent = {
      Records: [
        anSqsRecord('m1', letter('1')),
        anSqsRecord('m2', letter('2')),
        anSqsRecord('m3', 'not a letter'),
        anSqsRecord('m4', letter('4')),
      ],
    };
    const response = await handler(event);

    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: 'm3' },
      { itemIdentifier: 'm4' },
    ]);
    expect(analytics.received.map((payload) => payload.id)).toEqual(['2', '1']);
    const summary = log.lines.find((line) => line.message === 'replay summary');
    expect(summary?.attributes.summary).toEqual({
      letters: 4,
      posted: 1,
      duplicates: 1,
      failed: 2,
    });
  });

  it('bounds the lock on a payload in flight by the invocation, not the idempotency window', async () => {
    const told: number[] = [];
    const delivery = new IdempotentDelivery({
      cache: new MemoryCache(),
      analytics: new MemoryAnalytics(),
      ttlSeconds: 86_400,
      keyPrefix: 't:',
    });
    const register = delivery.registerInvocation.bind(delivery);
    delivery.registerInvocation = (context) => {
      told.push(context.getRemainingTimeInMillis());
      register(context);
    };
    const handler = createReplayHandler(async () => ({
      delivery,
      log: memoryLog() as unknown as Log,
    }));
    await handler({ Records: [anSqsRecord('m1', letter('1'))] }, {
      getRemainingTimeInMillis: () => 42_000,
    } as Context);
    expect(told).toEqual([42_000]);
  });
});
