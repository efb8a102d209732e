import { afterEach, describe, expect, it } from 'vitest';
import { type LocalDeployment, startLocalDeployment } from '../../local/deployment.ts';
import {
  OriginalApiMock,
  originalCustomers,
  originalProducts,
} from '../../local/mocks/original-api.ts';
import { verifyDelivery } from '../../local/report.ts';
import { testServices, uniquePrefix } from '../support/factories.ts';

let pipeline: LocalDeployment | undefined;
let original: OriginalApiMock | undefined;

afterEach(async () => {
  await pipeline?.stop();
  await original?.close();
  pipeline = undefined;
  original = undefined;
});

describe('against a server that speaks the original APIs exactly', () => {
  it('delivers each matching pair once, integer ids and updatedAt null included, with every field', async () => {
    original = await new OriginalApiMock(originalCustomers(30), originalProducts(30)).start();
    const { brokers, redisUrl } = testServices();
    const prefix = uniquePrefix('orig');
    pipeline = await startLocalDeployment({
      brokers,
      redisUrl,
      topicPrefix: prefix,
      redisKeyPrefix: prefix,
      settings: { LOG_LEVEL: 'SILENT', METRICS: 'off' },
      sourceUrls: { crm: `${original.url}/customers`, inventory: `${original.url}/products` },
      analyticsUrl: `${original.url}/analytics/data`,
    });
    for (let cycle = 0; cycle < 2; cycle++) {
      const results = await pipeline.runCycle();
      for (const result of results) if (result.status === 'rejected') throw result.reason;
      await pipeline.drain(60_000);
    }
    // Odd ids 1..29 are in both: 15 pairs, each once, at the original server itself.
    const check = await verifyDelivery(pipeline);
    expect(check).toMatchObject({ ok: true, expected: 15, deliveredOnce: 15, duplicates: 0 });
    expect(original.received).toHaveLength(15);
    const byId = new Map(original.received.map((body) => [(body as { id: string }).id, body]));
    // The payload's id is the id's decimal string; each side is the record exactly as served.
    expect(byId.get('7')).toEqual({
      id: '7',
      customer: originalCustomers(30)[6],
      inventory: originalProducts(30)[3],
    });
    expect(byId.get('7')).toMatchObject({
      customer: { id: 7, updatedAt: null, phone: '+1-555-0007' },
      inventory: { id: 7, updatedAt: null, sku: 'SKU-7' },
    });
    expect(pipeline.totals.fetch.crm?.quarantined).toBe(0);
  });
});
