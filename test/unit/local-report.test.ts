import { describe, expect, it } from 'vitest';
import { verdictOf, verifyDelivery } from '../../local/report.ts';

/*
 * The local summary's exactly-once check with the emit-after policy: a partial payload (a
 * required side null) and the complete payload that follows are two distinct payloads; the
 * same payload twice is a duplicate.
 */

type Body = Record<string, unknown>;
const customer = (id: string) => ({ id, name: `Customer ${id}` });
const product = (id: string) => ({ id, name: `Product ${id}`, stock: 1 });
const complete = (id: string): Body => ({ id, customer: customer(id), inventory: product(id) });
const partial = (id: string): Body => ({ id, customer: customer(id), inventory: null });

function pipelineOf(expected: string[], bodies: Body[]) {
  const receipts = bodies.map((body, index) => ({
    id: String(body.id),
    key: `key-${index}`,
    headers: {},
    body,
    at: index,
  }));
  return {
    idsInBoth: async () => new Set(expected),
    analytics: {
      receipts: async () => receipts,
      stats: async () => ({
        requests: receipts.length,
        received: receipts.length,
        distinctKeys: receipts.length,
        repeatedKeys: 0,
        rejected: 0,
      }),
    },
    totals: { merge: { ambiguousRetries: 0 } },
    analyticsHonoursKey: true,
    analyticsTarget: undefined,
    join: { required: ['customer', 'inventory'] },
  } as unknown as Parameters<typeof verifyDelivery>[0];
}

describe('the local exactly-once check with partial payloads', () => {
  it('counts a partial payload and its later complete payload as two payloads, each once', async () => {
    const check = await verifyDelivery(
      pipelineOf(['7', '8'], [partial('7'), complete('8'), complete('7'), partial('9')]),
    );
    expect(check).toMatchObject({
      ok: true,
      duplicates: 0,
      missing: [],
      partials: 2,
      expected: 2,
      deliveredOnce: 2,
    });
    expect(verdictOf(check)).toBe(
      'OK: all 2 ids present in every required source were delivered exactly once (no duplicates). 2 distinct partial payload(s) (a required side null: emit after) were delivered as well, each once.',
    );
  });

  it('still counts the same partial payload twice as a duplicate', async () => {
    const check = await verifyDelivery(
      pipelineOf(['7'], [partial('7'), partial('7'), complete('7')]),
    );
    expect(check).toMatchObject({ ok: false, duplicates: 1, partials: 1 });
    expect(verdictOf(check)).toMatch(/^FAILED: 0 id\(s\) never delivered, 1 extra receipt/);
  });

  it('still counts the same complete payload twice as a duplicate', async () => {
    const check = await verifyDelivery(pipelineOf(['7'], [complete('7'), complete('7')]));
    expect(check).toMatchObject({ ok: false, duplicates: 1, deliveredOnce: 0 });
  });

  it('reports an id whose complete payload never came, even though its partial did', async () => {
    const check = await verifyDelivery(pipelineOf(['7', '8'], [partial('7'), complete('8')]));
    expect(check).toMatchObject({ ok: false, missing: ['7'], partials: 1 });
    expect(verdictOf(check)).toMatch(/^FAILED: 1 id\(s\) never delivered \(7\)/);
  });
});
