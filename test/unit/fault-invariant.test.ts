import { describe, expect, it } from 'vitest';
import { sampleCustomers, sampleProducts } from '../../local/mocks/dataset.ts';
import type { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';
import { requestKey } from '../../shared/domain/analytics-batch.ts';
import { buildMergedPayload, type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import { checkRecord } from '../../shared/domain/records.ts';
import { SOURCES } from '../../shared/sources/registry.ts';
import { checkInvariant, type Observed } from '../faults/invariant.ts';
import { countingLostMarks } from '../faults/marks.ts';

// The fault suite's invariant, on hand-made observations: what it accepts and what it reports.

const customers = sampleCustomers(6, false);
const products = sampleProducts(6, false);
const payloads: MergedPayload[] = customers.flatMap((raw, i) => {
  const customer = checkRecord(SOURCES.crm, raw);
  const inventory = checkRecord(SOURCES.inventory, products[i]);
  if (!customer.ok || !inventory.ok) return [];
  const payload = buildMergedPayload(customer.id, {
    customer: customer.record,
    inventory: inventory.record,
  });
  return payload ? [payload] : [];
});

const base = (mode: 'single' | 'batch'): Observed => ({
  mode,
  eventIdField: 'eventId',
  customers,
  products,
  receipts: [],
  honoursKey: true,
  repeatedKeys: 0,
  repeatedPayloads: 0,
  ambiguousRetries: 0,
  lostMarks: 0,
  deadLettersExpected: false,
  budget: 'test',
  deadLetters: [],
  quarantine: [],
  customerTopicIds: customers.map((c) => String(c.id)),
  productTopicIds: products.map((p) => String(p.id)),
  maxRecordBytes: 100_000,
  expectedQuarantined: 0,
  sourceTopicsChecked: true,
});

const single = (payload: MergedPayload) => ({ body: payload, key: payloadHash(payload) });

/** Batch receipts as the mock records them: events with their ids, grouped in requests. */
function batches(...requests: MergedPayload[][]) {
  return requests.flatMap((request) => {
    const events = request.map((payload) => ({ ...payload, eventId: payloadHash(payload) }));
    const seen = {
      key: requestKey(events.map((event) => event.eventId)),
      eventIds: events.map((event) => event.eventId),
    };
    return events.map((event) => ({ body: event, key: event.eventId, request: seen }));
  });
}

describe('the fault invariant', () => {
  it('has six payloads to check', () => {
    expect(payloads).toHaveLength(6);
  });

  it('holds for each payload once, one per POST or in batch requests', () => {
    const once = checkInvariant('single', { ...base('single'), receipts: payloads.map(single) });
    expect(once).toMatchObject({ problems: [], deliveredOnce: 6, duplicates: 0, lost: 0 });
    const batched = checkInvariant('batch', {
      ...base('batch'),
      receipts: batches(payloads.slice(0, 5), payloads.slice(5)),
    });
    expect(batched).toMatchObject({
      problems: [],
      deliveredOnce: 6,
      duplicates: 0,
      distinctKeys: 6,
    });
  });

  it('counts payloads, not requests, and reports the missing ones', () => {
    const row = checkInvariant('batch', {
      ...base('batch'),
      receipts: batches(payloads.slice(0, 4)),
    });
    expect(row.deliveredOnce).toBe(4);
    expect(row.lost).toBe(2);
  });

  it('refuses a batch event whose id is not its hash, or a request key not derived from the ids', () => {
    const [first, ...rest] = batches(payloads);
    const wrongId = { ...first, body: { ...(first?.body as object), eventId: 'x' } };
    expect(
      checkInvariant('batch', { ...base('batch'), receipts: [wrongId, ...rest] as never }).problems,
    ).toContainEqual(expect.stringContaining("without the payload's hash as its eventId"));
    const request = { key: 'not-derived', eventIds: payloads.map((p) => payloadHash(p)) };
    const rekeyed = batches(payloads).map((receipt) => ({ ...receipt, request }));
    expect(checkInvariant('batch', { ...base('batch'), receipts: rekeyed }).problems).toEqual([
      "1 batch request(s) whose Idempotency-Key is not derived from their events' ids",
    ]);
  });

  it('refuses payloads outside a batch request in batch mode', () => {
    const receipts = payloads.map((payload) => ({
      body: { ...payload, eventId: payloadHash(payload) },
      key: payloadHash(payload),
    }));
    expect(checkInvariant('batch', { ...base('batch'), receipts }).problems).toEqual([
      '6 payload(s) received outside a batch request in batch mode',
    ]);
  });

  it('reports re-sends that no ambiguous retry or lost mark explains, even where the sink hid them', () => {
    const receipts = payloads.map(single);
    expect(
      checkInvariant('single', { ...base('single'), receipts, repeatedPayloads: 2 }).problems,
    ).toEqual([
      '2 payload(s) reached the sink again, but only 0 re-send(s) are explained (0 ambiguous retries, 0 completed marks lost)',
    ]);
    expect(
      checkInvariant('single', {
        ...base('single'),
        receipts,
        repeatedPayloads: 2,
        ambiguousRetries: 1,
        lostMarks: 1,
      }).problems,
    ).toEqual([]);
  });

  it('at a sink that ignores the key, wants exactly ambiguous retries plus lost marks as duplicates', () => {
    const twice = [...batches(payloads), ...batches(payloads.slice(0, 3))];
    const observed = { ...base('batch'), receipts: twice, honoursKey: false, repeatedPayloads: 3 };
    expect(
      checkInvariant('batch', { ...observed, ambiguousRetries: 1, lostMarks: 2 }),
    ).toMatchObject({ problems: [], duplicates: 3, deliveredOnce: 3 });
    expect(checkInvariant('batch', { ...observed, lostMarks: 2 }).problems).toEqual([
      '3 payload(s) reached the sink again, but only 2 re-send(s) are explained (0 ambiguous retries, 2 completed marks lost)',
      'a sink that ignores the key received 3 duplicate(s), but the merge counted 0 ambiguous retries and 2 completed marks were lost',
    ]);
    // At a sink that honours the key, any duplicate is a broken invariant.
    expect(
      checkInvariant('batch', { ...observed, honoursKey: true, ambiguousRetries: 3 }).problems,
    ).toEqual(['3 payload(s) received more than once']);
  });
});

describe('the count of lost completed marks', () => {
  const inProgress = JSON.stringify({ status: 'INPROGRESS' });
  const completed = JSON.stringify({ status: 'COMPLETED' });
  /** A cache whose writes succeed, except while `failing`. */
  function cache() {
    const state = { failing: false };
    const client = {
      set: async () => {
        if (state.failing) throw new Error('Redis unreachable');
        return 'OK';
      },
    };
    return { state, client: client as unknown as IoRedisCacheClient };
  }

  it('counts a payload claimed again after its mark failed, once per claim after it', async () => {
    const { state, client } = cache();
    let lost = 0;
    const counted = countingLostMarks(client, (n) => {
      lost += n;
    });
    await counted.set('a', inProgress, { EX: 60, NX: true });
    state.failing = true;
    await expect(counted.set('a', completed, { EX: 60 })).rejects.toThrow();
    state.failing = false;
    expect(lost).toBe(0);
    await counted.set('a', inProgress, { EX: 60, NX: true });
    await counted.set('a', inProgress, { EX: 60 });
    expect(lost).toBe(1);
    // An orphan take-over (a plain set of INPROGRESS) after a lost mark counts too.
    await counted.set('b', inProgress, { EX: 60, NX: true });
    state.failing = true;
    await expect(counted.set('b', completed, { EX: 60 })).rejects.toThrow();
    state.failing = false;
    await counted.set('b', inProgress, { EX: 60, NX: true });
    expect(lost).toBe(2);
  });

  it("counts batch mode's marks and claims, many records to a call", async () => {
    const state = { failing: false };
    const client = {
      setMany: async (entries: unknown[]) => {
        if (state.failing) throw new Error('Redis unreachable');
        return entries.map(() => 'OK');
      },
    } as unknown as IoRedisCacheClient;
    let lost = 0;
    const counted = countingLostMarks(client, (n) => {
      lost += n;
    });
    const entries = (value: string) => ['a', 'b', 'c'].map((key) => ({ key, value, ttl: 60 }));
    await counted.setMany(entries(inProgress), { NX: true });
    state.failing = true;
    await expect(counted.setMany(entries(completed))).rejects.toThrow();
    state.failing = false;
    await counted.setMany(entries(inProgress).slice(0, 2), { NX: true });
    expect(lost).toBe(2);
  });

  it('does not count a mark that reached Redis, even if it vanished later (a broken dedupe)', async () => {
    const { client } = cache();
    let lost = 0;
    const counted = countingLostMarks(client, (n) => {
      lost += n;
    });
    await counted.set('a', inProgress, { EX: 60, NX: true });
    await counted.set('a', completed, { EX: 60 });
    await counted.set('a', inProgress, { EX: 60, NX: true });
    expect(lost).toBe(0);
  });
});
