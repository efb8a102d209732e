import { describe, expect, it } from 'vitest';
import { tallyEntries } from '../../local/quarantine-tally.ts';
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

type FetchTotals = { fetched: number; quarantined: number; runs: number; failures: number };

function pipelineOf(
  expected: string[],
  bodies: Body[],
  fetch: Record<string, FetchTotals> = {},
  mergeQuarantined = 0,
) {
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
    totals: { fetch, merge: { ambiguousRetries: 0, quarantined: mergeQuarantined } },
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

const fetched = (n: number, quarantined = 0, failures = 0): FetchTotals => ({
  fetched: n,
  quarantined,
  runs: 2,
  failures,
});
/** A quarantine entry as the topic holds it (JSON, as TopicQuarantineSink writes it). */
const entry = (fields: Record<string, unknown>) => JSON.stringify({ raw: '{}', ...fields });

describe('an honest local verdict', () => {
  it('fails a run that delivered nothing while the sources sent records, with the first reasons', async () => {
    const reason = 'id: 1.5 is not an integer';
    const quarantine = tallyEntries([
      entry({ stage: 'fetch', source: 'crm', reason }),
      entry({ stage: 'fetch', source: 'crm', reason }),
      entry({ stage: 'fetch', source: 'inventory', reason: 'name: is required' }),
    ]);
    const check = await verifyDelivery(
      pipelineOf([], [], { crm: fetched(2, 2), inventory: fetched(1, 1) }),
      quarantine,
    );
    expect(check).toMatchObject({ ok: false, nothingDelivered: true, sent: 3 });
    expect(verdictOf(check)).toBe(
      [
        'FAILED: nothing was delivered although the sources sent 3 record(s): every one was quarantined at fetch (first reasons: "id: 1.5 is not an integer"; "name: is required").',
        'Quarantined: 3 record(s), never delivered and not in that count: crm at fetch: 2 (first: "id: 1.5 is not an integer"), inventory at fetch: 1 (first: "name: is required").',
      ].join('\n'),
    );
  });

  it('fails when nothing could be joined, though nothing was quarantined', async () => {
    const check = await verifyDelivery(pipelineOf([], [], { crm: fetched(4) }));
    expect(check.ok).toBe(false);
    expect(verdictOf(check)).toBe(
      'FAILED: nothing was delivered although the sources sent 4 record(s): no id is present in every required source, so nothing could be joined.',
    );
  });

  it('says beside the exactly-once line what was quarantined, per source and stage', async () => {
    const quarantine = tallyEntries(
      [
        entry({ stage: 'fetch', source: 'crm', reason: 'contract freeze: undeclared field vip' }),
        entry({ stage: 'merge', topic: 'run-1.customer_data', reason: 'value is not JSON' }),
      ],
      (topic) => (topic === 'run-1.customer_data' ? 'crm' : undefined),
    );
    const check = await verifyDelivery(
      pipelineOf(['7'], [complete('7')], { crm: fetched(2, 1), inventory: fetched(1) }, 1),
      quarantine,
    );
    expect(check.ok).toBe(true);
    expect(verdictOf(check)).toBe(
      [
        'OK: all 1 ids present in every required source were delivered exactly once (no duplicates).',
        'Quarantined: 2 record(s), never delivered and not in that count: crm at fetch: 1 (first: "contract freeze: undeclared field vip"), crm at merge: 1 (first: "value is not JSON").',
      ].join('\n'),
    );
  });

  it('counts the quarantine from the totals when the topic was not read', async () => {
    const check = await verifyDelivery(pipelineOf(['7'], [complete('7')], { crm: fetched(2, 1) }));
    expect(verdictOf(check)).toMatch(
      /\nQuarantined: 1 record\(s\), never delivered and not in that count: 1 at fetch, 0 at merge\.$/,
    );
  });

  it('fails a run in which every fetch of a source failed', async () => {
    const check = await verifyDelivery(
      pipelineOf(['7'], [complete('7')], { crm: fetched(2), inventory: fetched(0, 0, 2) }),
    );
    expect(check).toMatchObject({ ok: false, failedSources: ['inventory'] });
    expect(verdictOf(check)).toMatch(/^FAILED: every fetch run of inventory failed/);
  });

  it('tallies entries per source and stage, keeping the first three distinct reasons', () => {
    const reasons = ['a', 'b', 'a', 'c', 'd'];
    const tally = tallyEntries([
      ...reasons.map((reason) => entry({ stage: 'fetch', source: 'crm', reason })),
      'not json',
    ]);
    expect(tally).toEqual([
      { source: 'crm', stage: 'fetch', count: 5, reasons: ['a', 'b', 'c'] },
      { source: 'unknown', stage: 'unknown', count: 1, reasons: ['(no reason recorded)'] },
    ]);
  });
});
