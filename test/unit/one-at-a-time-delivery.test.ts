import { describe, expect, it } from 'vitest';
import { OneAtATimeDelivery } from '../../shared/adapters/one-at-a-time-delivery.ts';
import { buildMergedPayload, type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import { AnalyticsDeliveryError, DeliveryInProgressError } from '../../shared/errors.ts';
import type { PayloadDelivery } from '../../shared/ports.ts';
import { aCustomer, aProduct } from '../support/factories.ts';

const aPayload = (id: string) =>
  buildMergedPayload(id, { customer: aCustomer(id), inventory: aProduct(id) }) as MergedPayload;
const items = (...ids: string[]) =>
  ids.map((id) => ({ payload: aPayload(id), hash: payloadHash(aPayload(id)) }));

/** A single-mode delivery that answers by payload id and records what it was asked. */
function single(
  answer: (id: string) => Promise<'posted' | 'duplicate'> = async () => 'posted',
  known: string[] = [],
) {
  const asked: string[][] = [];
  const delivered: string[] = [];
  let inFlight = 0;
  const most = { value: 0 };
  const port: PayloadDelivery = {
    delivered: async (hashes) => {
      asked.push(hashes);
      return hashes.map((hash) => known.some((id) => payloadHash(aPayload(id)) === hash));
    },
    deliver: async (payload) => {
      most.value = Math.max(most.value, ++inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, 5));
        const outcome = await answer(String(payload.id));
        delivered.push(String(payload.id));
        return outcome;
      } finally {
        inFlight--;
      }
    },
  };
  return { port, asked, delivered, most };
}

describe('OneAtATimeDelivery, single mode as the delivery port', () => {
  it('pre-checks every payload in one call and POSTs only the ones not known delivered', async () => {
    const { port, asked, delivered } = single(undefined, ['2']);
    const outcomes = await new OneAtATimeDelivery(port, 2).deliverMany(items('1', '2', '3'));
    expect(outcomes).toEqual(['posted', 'duplicate', 'posted']);
    expect(asked).toEqual([items('1', '2', '3').map(({ hash }) => hash)]);
    expect(delivered.sort()).toEqual(['1', '3']);
  });

  it('reports a refusal after the retries as rejected, and a payload held elsewhere as held', async () => {
    const { port } = single(async (id) => {
      if (id === '1') throw new AnalyticsDeliveryError(429, 3, 'HTTP 429');
      if (id === '2') throw new DeliveryInProgressError(payloadHash(aPayload('2')));
      return id === '3' ? 'duplicate' : 'posted';
    });
    const outcomes = await new OneAtATimeDelivery(port, 2).deliverMany(items('1', '2', '3', '4'));
    expect(outcomes).toEqual([
      {
        rejected: 'POST to Analytics failed after 3 attempt(s): HTTP 429',
        attempts: 3,
        status: 429,
      },
      'held',
      'duplicate',
      'posted',
    ]);
  });

  it('fails on any other error (Redis) once the deliveries already started have finished', async () => {
    const { port, delivered } = single(async (id) => {
      if (id === '1') throw new Error('Redis connection lost');
      return 'posted';
    });
    await expect(
      new OneAtATimeDelivery(port, 2).deliverMany(items('1', '2', '3', '4', '5')),
    ).rejects.toThrow('Redis connection lost');
    // '2' was in flight beside '1' and finished; nothing started after the failure.
    expect(delivered).toEqual(['2']);
  });

  it('keeps the POSTs of every call in flight within its concurrency', async () => {
    const { port, most, delivered } = single();
    const delivery = new OneAtATimeDelivery(port, 3);
    const ids = Array.from({ length: 12 }, (_, i) => String(i));
    await Promise.all([
      delivery.deliverMany(items(...ids.slice(0, 6))),
      delivery.deliverMany(items(...ids.slice(6))),
    ]);
    expect(delivered.sort()).toEqual([...ids].sort());
    expect(most.value).toBe(3);
  });

  it('delivers one payload through the single-mode delivery, its errors unchanged', async () => {
    const refused = new AnalyticsDeliveryError(400, 1, 'HTTP 400');
    const { port } = single(async (id) => {
      if (id === '2') throw refused;
      return 'posted';
    });
    const delivery = new OneAtATimeDelivery(port, 1);
    const [first, second] = items('1', '2') as [
      { payload: MergedPayload; hash: string },
      { payload: MergedPayload; hash: string },
    ];
    expect(await delivery.deliver(first.payload, first.hash)).toBe('posted');
    await expect(delivery.deliver(second.payload, second.hash)).rejects.toBe(refused);
  });
});
