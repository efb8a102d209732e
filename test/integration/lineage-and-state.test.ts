import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFetchHandler } from '../../functions/fetch/handler.ts';
import { buildFetchRuntime } from '../../functions/fetch/runtime.ts';
import { type LocalDeployment, startLocalDeployment } from '../../local/deployment.ts';
import { verifyDelivery } from '../../local/report.ts';
import { loadFetchConfig } from '../../shared/config.ts';
import { type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import { createLogger } from '../../shared/logger.ts';
import { parseSourceDefinitions } from '../../shared/sources/definition.ts';
import { BUILT_IN_SOURCES } from '../../shared/sources/registry.ts';
import { runLogsCommand } from '../../tools/logs/cli.ts';
import { aCustomer, testServices, uniquePrefix } from '../support/factories.ts';

let pipeline: LocalDeployment | undefined;
let logDir: string | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await pipeline?.stop();
  await pipeline?.deleteState();
  pipeline = undefined;
  if (logDir) rmSync(logDir, { recursive: true, force: true });
  logDir = undefined;
});

/** The bundled sources, the CRM read incrementally (its cursor is what a reset rewinds). */
const SOURCES = parseSourceDefinitions(
  BUILT_IN_SOURCES.map((source) =>
    source.name === 'crm'
      ? { ...source, change: { path: 'updatedAt', param: 'updatedSince', overlap: 0 } }
      : source,
  ),
);

/** Starts the pipeline on real Kafka and Redis, its JSON log lines kept in `lines`. */
async function start(prefix: string, lines: string[], level = 'INFO'): Promise<LocalDeployment> {
  const { brokers, redisUrl } = testServices();
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (text.startsWith('{')) lines.push(...text.split('\n').filter(Boolean));
    else write(chunk);
    return true;
  }) as typeof process.stdout.write);
  pipeline = await startLocalDeployment({
    brokers,
    redisUrl,
    topicPrefix: prefix,
    redisKeyPrefix: prefix,
    records: 8,
    pageSize: 5,
    sources: SOURCES,
    settings: { LOG_LEVEL: level, METRICS: 'off', HTTP_BASE_DELAY_MS: '10' },
    fetchLogger: (source) => createLogger(`fetch-${source}`, level),
    mergeLogger: createLogger('merge', level),
  });
  // Customers with a change value, so the CRM's runs after the first are incremental.
  for (let id = 1; id <= 8; id++) {
    if (id % 10 === 0) continue;
    await pipeline.crm.upsert(
      aCustomer(String(id), { updatedAt: `2025-01-0${id}T00:00:00.000Z` } as never),
    );
  }
  return pipeline;
}

async function fetchAndDrain(p: LocalDeployment, ...sources: string[]) {
  for (const source of sources) await p.fetchOnce(source);
  await p.drain(60_000);
}

/** The CRM's fetch function as the stack deploys it, on the run's Redis keys. */
function crmFetchFunction(prefix: string) {
  const { brokers, redisUrl } = testServices();
  const runtime = buildFetchRuntime(
    loadFetchConfig({
      KAFKA_BROKERS: brokers,
      TOPIC_PREFIX: prefix,
      LOG_LEVEL: 'SILENT',
      METRICS: 'off',
      SOURCE: 'crm',
      SOURCE_URL: 'http://127.0.0.1:9/customers',
      PIPELINE_SOURCES: JSON.stringify(SOURCES),
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
    }),
  );
  return { handler: createFetchHandler(runtime), close: () => runtime.close() };
}

const counts = async (p: LocalDeployment) => {
  const byId = new Map<string, number>();
  for (const { id } of await p.analytics.receipts()) byId.set(id, (byId.get(id) ?? 0) + 1);
  return byId;
};

describe('operating a source and tracing a payload, on real Kafka and Redis', () => {
  it('traces a payload joined from two fetch runs and two batches back to both records', async () => {
    const prefix = uniquePrefix('lineage');
    const lines: string[] = [];
    const p = await start(prefix, lines);
    await fetchAndDrain(p, 'crm');
    await fetchAndDrain(p, 'inventory');
    vi.restoreAllMocks();

    const receipt = (await p.analytics.receipts()).find((entry) => entry.id === '3');
    expect(receipt).toBeDefined();
    const hash = payloadHash(receipt?.body as MergedPayload);
    logDir = mkdtempSync(join(tmpdir(), 'lineage-'));
    const file = join(logDir, 'run.log');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const printed: string[] = [];
    const code = await runLogsCommand(['--payload', hash, '--file', file, '--json'], {
      now: new Date(Date.now() + 1_000),
      print: (text) => printed.push(text),
      progress: () => undefined,
      readFile: (path) => readFileSync(path, 'utf8'),
      cloudWatch: () => {
        throw new Error('not on AWS');
      },
    });
    expect(code).toBe(0);
    const path = printed
      .join('\n')
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const lineage = path.find((line) => line.message === 'payload lineage');
    const sides = lineage?.sides as Record<string, Record<string, unknown>>;
    // Each side names the fetch run that published it: two runs, two batches.
    expect(sides.customer?.correlationId).not.toBe(sides.inventory?.correlationId);
    expect(sides.customer).toMatchObject({ topic: `${prefix}customer_data` });
    expect(sides.inventory).toMatchObject({ topic: `${prefix}inventory_data` });
    // Fetch to Analytics: both publishes, the merge's read of each record at its offset, the
    // lineage and the delivery, every line about id 3 and nothing about another payload. (A
    // fetch writes its line once the broker acknowledged, so the merge's read may come first.)
    const steps = path.map((line) => `${line.service} ${line.message}`);
    expect([...steps].sort()).toEqual([
      'fetch-crm record published',
      'fetch-inventory record published',
      'merge payload delivered',
      'merge payload lineage',
      'merge record joined',
      'merge record joined',
    ]);
    expect(steps.lastIndexOf('merge record joined')).toBeLessThan(
      steps.indexOf('merge payload delivered'),
    );
    expect(path.every((line) => line.id === '3')).toBe(true);
    const joined = path.filter((line) => line.message === 'record joined');
    expect(joined.map((line) => [line.topic, line.partition, line.offset])).toEqual([
      [sides.customer?.topic, sides.customer?.partition, sides.customer?.offset],
      [sides.inventory?.topic, sides.inventory?.partition, sides.inventory?.offset],
    ]);
    expect(path.find((line) => line.message === 'payload delivered')?.hash).toBe(hash);
  });

  it('state reset --source crm: the next run re-reads the source and delivers nothing twice', async () => {
    const prefix = uniquePrefix('reset');
    const p = await start(prefix, [], 'SILENT');
    vi.restoreAllMocks();
    await fetchAndDrain(p, 'crm', 'inventory');
    const delivered = (await p.analytics.receipts()).length;
    expect(delivered).toBeGreaterThan(0);

    // Incremental now: the CRM publishes only what is at or past its cursor (customer 8).
    const before = p.totals.fetch.crm?.published ?? 0;
    await fetchAndDrain(p, 'crm');
    expect(p.totals.fetch.crm).toMatchObject({ mode: 'incremental' });
    expect((p.totals.fetch.crm?.published ?? 0) - before).toBe(1);

    const crm = crmFetchFunction(prefix);
    try {
      const answer = await crm.handler({ state: { op: 'reset' } });
      expect(answer.state).toMatchObject({ cursor: null, checkpoint: null, lease: null });
    } finally {
      await crm.close();
    }

    const duplicatesBefore = p.totals.merge.duplicates;
    const publishedBefore = p.totals.fetch.crm?.published ?? 0;
    await fetchAndDrain(p, 'crm');
    expect(p.totals.fetch.crm).toMatchObject({ mode: 'full' });
    expect((p.totals.fetch.crm?.published ?? 0) - publishedBefore).toBe(8);
    // Every payload rebuilt from the re-read is one Analytics has: none goes out again.
    expect(p.totals.merge.duplicates - duplicatesBefore).toBe(delivered);
    expect(await p.analytics.receipts()).toHaveLength(delivered);
    expect([...(await counts(p)).values()].every((count) => count === 1)).toBe(true);
    expect((await verifyDelivery(p)).duplicates).toBe(0);
  });
});
