import { describe, expect, it } from 'vitest';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import { buildMergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import type { Log } from '../../shared/logger.ts';
import { replayLetters } from '../../shared/use-cases/replay-letters.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { MemoryAnalytics, MemoryCache, memoryLog } from '../support/in-memory.ts';

const aPayload = (id: string) =>
  buildMergedPayload(id, { customer: aCustomer(id), inventory: aProduct(id) });
const letter = (id: string, body: unknown) => ({ id, body: JSON.stringify(body) });

function delivery(analytics = new MemoryAnalytics()) {
  const once = new IdempotentDelivery({
    cache: new MemoryCache(),
    analytics,
    ttlSeconds: 60,
    keyPrefix: 'r:',
  });
  once.registerInvocation({ getRemainingTimeInMillis: () => 30_000 });
  return once;
}

describe('replayLetters', () => {
  it('leaves a letter without a payload id in place and says why', async () => {
    const log = memoryLog();
    const result = await replayLetters(
      [letter('m1', { payload: { customer: {} } }), letter('m2', { reason: 'x' })],
      delivery(),
      log as unknown as Log,
    );
    expect(result).toEqual({
      summary: { letters: 2, posted: 0, duplicates: 0, failed: 2 },
      failedIds: ['m1', 'm2'],
    });
    expect(log.lines).toEqual([
      {
        level: 'error',
        message: 'dead letter unreadable; left in place',
        attributes: { letterId: 'm1', reason: 'dead letter has no payload with an id' },
      },
      {
        level: 'error',
        message: 'dead letter unreadable; left in place',
        attributes: { letterId: 'm2', reason: 'dead letter has no payload with an id' },
      },
    ]);
  });

  it('logs each replayed letter with its outcome, and each refused one with the reason', async () => {
    const analytics = new MemoryAnalytics();
    analytics.refuse.add('2');
    const log = memoryLog();
    const once = delivery(analytics);
    const result = await replayLetters(
      [
        letter('m1', { payload: aPayload('1') }),
        letter('m2', { payload: aPayload('2') }),
        letter('m3', { payload: aPayload('1') }),
      ],
      once,
      log as unknown as Log,
    );
    expect(result.summary).toEqual({ letters: 3, posted: 1, duplicates: 1, failed: 1 });
    const hash = (id: string) => payloadHash(aPayload(id) ?? ({} as never));
    expect(log.lines.map(({ level, message, attributes }) => [level, message, attributes])).toEqual(
      [
        ['info', 'dead letter replayed', { id: '1', hash: hash('1'), outcome: 'posted' }],
        [
          'warn',
          'dead letter still refused; left in place',
          {
            id: '2',
            hash: hash('2'),
            reason: 'POST to Analytics failed after 3 attempt(s): HTTP 503',
          },
        ],
        ['info', 'dead letter replayed', { id: '1', hash: hash('1'), outcome: 'duplicate' }],
      ],
    );
  });

  it('fails the whole replay when delivery fails for another reason than Analytics', async () => {
    const broken = {
      delivered: async () => [],
      deliver: async () => {
        throw new Error('Redis connection lost');
      },
    };
    await expect(
      replayLetters(
        [letter('m1', { payload: aPayload('1') })],
        broken,
        memoryLog() as unknown as Log,
      ),
    ).rejects.toThrow('Redis connection lost');
  });
});
