import { afterEach, describe, expect, it } from 'vitest';
import { type LocalDeployment, startLocalDeployment } from '../../local/deployment.ts';
import { FaultInjector, seedOf } from '../../local/mocks/faults.ts';
import { encodeMskEvent } from '../../local/msk-event.ts';
import { verifyDelivery } from '../../local/report.ts';
import { aCustomer, aProduct, testServices, uniquePrefix } from '../support/factories.ts';
import { produceRaw, readTopic } from '../support/kafka.ts';

const FAST_RETRIES = {
  LOG_LEVEL: 'SILENT',
  METRICS: 'off',
  HTTP_BASE_DELAY_MS: '10',
  HTTP_MAX_DELAY_MS: '200',
  HTTP_TIMEOUT_MS: '2000',
};

let pipeline: LocalDeployment | undefined;

async function start(records = 40, more: Partial<Parameters<typeof startLocalDeployment>[0]> = {}) {
  const { brokers, redisUrl } = testServices();
  const prefix = uniquePrefix('pipe');
  pipeline = await startLocalDeployment({
    brokers,
    redisUrl,
    topicPrefix: prefix,
    redisKeyPrefix: prefix,
    records,
    pageSize: 15,
    batchSize: 25,
    ...more,
    settings: { ...FAST_RETRIES, ...more.settings },
  });
  return pipeline;
}

async function countsById(p: LocalDeployment): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { id } of await p.analytics.receipts()) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

async function cycle(p: LocalDeployment) {
  const results = await p.runCycle();
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  await p.drain(60_000);
}

afterEach(async () => {
  await pipeline?.stop();
  await pipeline?.deleteState();
  pipeline = undefined;
});

describe('the pipeline on real Kafka and Redis', () => {
  it('delivers exactly one payload per id that both sources have, in one cycle', async () => {
    const p = await start();
    await cycle(p);
    const check = await verifyDelivery(p);
    expect(check.missing).toEqual([]);
    expect(check.duplicates).toBe(0);
    const receipts = await p.analytics.receipts();
    expect(receipts).toHaveLength((await p.idsInBoth()).size);
    const first = receipts.find((entry) => entry.id === '1')?.body;
    expect(first).toEqual({
      id: '1',
      customer: expect.objectContaining({ id: '1' }),
      inventory: expect.objectContaining({ id: '1' }),
    });
  });

  it('delivers nothing new on a second cycle with no change', async () => {
    const p = await start();
    await cycle(p);
    const afterFirst = (await p.analytics.receipts()).length;
    await cycle(p);
    expect(await p.analytics.receipts()).toHaveLength(afterFirst);
    expect(p.totals.merge.duplicates).toBeGreaterThan(0);
  });

  it('delivers a changed customer exactly once', async () => {
    const p = await start();
    await cycle(p);
    const before = (await p.analytics.receipts()).length;
    await p.crm.upsert(aCustomer('3', { name: 'Changed Name', updatedAt: '2030-01-01T00:00:00Z' }));
    await cycle(p);
    await cycle(p);
    const fresh = (await p.analytics.receipts()).slice(before);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]?.body).toMatchObject({ id: '3', customer: { name: 'Changed Name' } });
  });

  it('delivers a customer with no product once its product arrives', async () => {
    const p = await start();
    await cycle(p);
    // Id 7 is left out of the Inventory's sample data.
    expect((await countsById(p)).has('7')).toBe(false);
    await p.inventory.upsert(aProduct('7'));
    await cycle(p);
    expect((await countsById(p)).get('7')).toBe(1);
    expect((await verifyDelivery(p)).ok).toBe(true);
  });

  it('delivers an id once when merge invocations for the two topics race on it', async () => {
    const p = await start(1);
    const ids = Array.from({ length: 200 }, (_, i) => `race-${i}`);
    const event = (topic: string, values: object[]) =>
      encodeMskEvent(
        values.map((value, offset) => ({
          topic,
          partition: 0,
          offset: String(offset),
          timestamp: Date.now(),
          key: (value as { id: string }).id,
          value: JSON.stringify(value),
          headers: { 'fetched-at': new Date().toISOString() },
        })),
        { eventSourceArn: 'arn:aws:kafka:local:0:cluster/test', bootstrapServers: 'test' },
      );
    await Promise.all([
      p.merge(
        event(
          p.topics.customer,
          ids.map((id) => aCustomer(id)),
        ),
      ),
      p.merge(
        event(
          p.topics.inventory,
          ids.map((id) => aProduct(id)),
        ),
      ),
    ]);
    const counts = await countsById(p);
    for (const id of ids) expect(counts.get(id), `deliveries of ${id}`).toBe(1);
  });

  it('quarantines a non-JSON message and goes on with the rest of the batch', async () => {
    const p = await start(1);
    await produceRaw(p.kafka, p.topics.customer, [
      { key: 'q1', value: JSON.stringify(aCustomer('q1')) },
      { key: 'q2', value: 'this is not JSON {' },
      { key: 'q3', value: JSON.stringify(aCustomer('q3')) },
    ]);
    await produceRaw(p.kafka, p.topics.inventory, [
      { key: 'q1', value: JSON.stringify(aProduct('q1')) },
      { key: 'q3', value: JSON.stringify(aProduct('q3')) },
    ]);
    await p.drain(30_000);
    const counts = await countsById(p);
    expect(counts.get('q1')).toBe(1);
    expect(counts.get('q3')).toBe(1);
    const quarantined = await readTopic(p.kafka, p.topics.quarantine, 1);
    expect(quarantined).toHaveLength(1);
    expect(JSON.parse(quarantined[0]?.value ?? '{}')).toMatchObject({
      stage: 'merge',
      reason: 'value is not JSON',
      raw: 'this is not JSON {',
      topic: p.topics.customer,
      partition: expect.any(Number),
      offset: expect.stringMatching(/^\d+$/),
    });
  });

  it("counts a failed fetch run's retries in the summary, not only a complete run's", async () => {
    const p = await start(10, { settings: { HTTP_MAX_ATTEMPTS: '3' } });
    // Every attempt of the first page fails: two retries, then the run fails.
    await p.inventory.script(
      ...Array.from({ length: 3 }, () => ({ kind: 'status', status: 500 }) as const),
    );
    await expect(p.fetchOnce('inventory')).rejects.toThrow();
    expect(p.totals.fetch.inventory).toMatchObject({ runs: 1, failures: 1, retries: 2 });
    await p.fetchOnce('inventory');
    expect(p.totals.fetch.inventory).toMatchObject({ runs: 2, failures: 1, retries: 2 });
  });

  it("seeds every mock's random faults from the run's fault seed", async () => {
    const rates = { latencyMs: 0, errorRate: 0.3, throttleRate: 0 };
    const p = await start(40, {
      sourceFaults: rates,
      faultSeed: 2024,
      pageSize: 4,
      settings: { HTTP_MAX_ATTEMPTS: '20' },
    });
    await p.fetchOnce('crm');
    await p.fetchOnce('inventory');
    for (const mock of ['crm', 'inventory'] as const) {
      const { requests, injected } = (await p[mock].call('stats')) as {
        requests: number;
        injected: number;
      };
      // The mock failed exactly the requests an injector seeded as the run seeds it would fail.
      const expected = new FaultInjector(rates, seedOf(2024, mock));
      const failed = Array.from({ length: requests }, () => expected.next()).filter(Boolean);
      expect(requests, `${mock} requests`).toBeGreaterThan(9);
      expect(injected, `${mock} faults`).toBe(failed.length);
    }
  });
});
