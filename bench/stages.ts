import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import type { Kafka } from 'kafkajs';
import { createFetchHandler } from '../functions/fetch/handler.ts';
import { buildFetchRuntime } from '../functions/fetch/runtime.ts';
import { CODEC_ALIASES } from '../infra/constructs/pipeline-function.ts';
import { startLocalDeployment } from '../local/deployment.ts';
import { AnalyticsMock } from '../local/mocks/analytics-mock.ts';
import { sampleCustomers, sampleProducts } from '../local/mocks/dataset.ts';
import { SourceMock } from '../local/mocks/servers.ts';
import { deleteRunState } from '../local/run-state.ts';
import { ensureTopics } from '../shared/adapters/kafka-topics.ts';
import { loadFetchConfig } from '../shared/config.ts';
import { TOPICS } from '../shared/sources/registry.ts';

/** Settings shared by every stage: logs at WARN (per-record INFO lines are measured apart). */
const BENCH_SETTINGS = { LOG_LEVEL: 'WARN', METRICS: 'off' };

export type Env = { brokers: string; redisUrl: string; kafka: Kafka };

const prefix = (label: string) => `bench-${label}-${randomUUID().slice(0, 6)}.`;

/** fetch -> Kafka: one fetch run of `records` customers in pages of `pageSize`. */
export async function fetchStage(env: Env, records: number, pageSize: number, logLevel = 'WARN') {
  const topicPrefix = prefix('fetch');
  await ensureTopics(env.kafka, [
    { topic: topicPrefix + TOPICS.customer, numPartitions: 3 },
    { topic: topicPrefix + TOPICS.quarantine, numPartitions: 1 },
  ]);
  const crm = await new SourceMock('/customers', sampleCustomers(records, false)).start();
  const runtime = buildFetchRuntime(
    loadFetchConfig({
      ...BENCH_SETTINGS,
      LOG_LEVEL: logLevel,
      KAFKA_BROKERS: env.brokers,
      TOPIC_PREFIX: topicPrefix,
      SOURCE: 'crm',
      SOURCE_BASE_URL: crm.url,
      PAGE_SIZE: String(pageSize),
    }),
  );
  const fetch = createFetchHandler(runtime);
  try {
    await fetch(undefined); // warm: producer connected, topic metadata cached
    const started = performance.now();
    const summary = await fetch(undefined);
    const seconds = (performance.now() - started) / 1000;
    return { records: summary.published, seconds, perSecond: summary.published / seconds };
  } finally {
    await runtime.publisher.disconnect();
    await crm.close();
  }
}

const run = promisify(execFile);
let workerBundle: Promise<string> | undefined;

/**
 * The merge worker bundled the way the Lambda function is (esbuild, ESM, minified), so its memory
 * and CPU are those of the deployed code on plain node, without the TypeScript loader.
 */
function bundledWorker(): Promise<string> {
  workerBundle ??= (async () => {
    const outfile = join(import.meta.dirname, '..', '.local', 'bench', 'merge-worker.mjs');
    await build({
      entryPoints: [join(import.meta.dirname, 'merge-worker.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      minifyWhitespace: true,
      minifySyntax: true,
      // A profile names the functions as written.
      minifyIdentifiers: !process.env.MERGE_CPU_PROFILE && !process.env.MERGE_HEAP_PROFILE,
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      alias: CODEC_ALIASES,
      logLevel: 'warning',
    });
    return outfile;
  })();
  return workerBundle;
}

/**
 * The merge handler alone on one MSK batch of `size` customers whose products are already in the
 * join state: every record joins, is checked against the idempotency store, and is POSTed to an
 * Analytics mock that answers at once (`delivery`: one payload per POST, or batch requests of
 * the default 500 payloads and 500 KB). The handler runs in a process of its own (bench/
 * merge-worker.ts), so the figures are its CPU and memory, not the mock's.
 */
export async function mergeStage(env: Env, size: number, delivery: 'single' | 'batch' = 'single') {
  const analytics = await new AnalyticsMock().start();
  const keyPrefix = prefix('merge');
  try {
    const job = {
      size,
      delivery,
      brokers: env.brokers,
      redisUrl: env.redisUrl,
      analyticsUrl: analytics.url,
      prefix: keyPrefix,
    };
    const { stdout } = await run('node', [await bundledWorker(), JSON.stringify(job)], {
      maxBuffer: 1 << 20,
    });
    const figures = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      posted: number;
      seconds: number;
      cpuSeconds: number;
      idleSeconds: number;
      repeatSeconds: number;
      baselineRssMb: number;
      peakRssMb: number;
    };
    if (figures.posted !== size || analytics.received.length !== size + 1_000) {
      throw new Error(`merge bench posted ${figures.posted} of ${size}; the run is not comparable`);
    }
    return {
      records: size,
      seconds: figures.seconds,
      perSecond: size / figures.seconds,
      cpuSeconds: figures.cpuSeconds,
      idleSeconds: figures.idleSeconds,
      repeatPerSecond: size / figures.repeatSeconds,
      peakRssMb: figures.peakRssMb,
      rssGrowthMb: figures.peakRssMb - figures.baselineRssMb,
    };
  } finally {
    await analytics.close();
    // The run's join state and delivery records (7 days and 24 h of TTL) go with it: with
    // --shared-redis they would otherwise stay in the user's Redis.
    await deleteRunState(env.redisUrl, keyPrefix);
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/**
 * End to end: both sources fetched at once, the emulated event source mappings feeding the merge
 * handler, until the last payload reaches Analytics. Latency of a payload: from the moment its
 * later side was served by its source to its receipt by Analytics.
 */
export async function endToEnd(env: Env, records: number, delivery: 'single' | 'batch' = 'single') {
  const topicPrefix = prefix('e2e');
  const pipeline = await startLocalDeployment({
    brokers: env.brokers,
    redisUrl: env.redisUrl,
    topicPrefix,
    redisKeyPrefix: topicPrefix,
    records,
    pageSize: 1000,
    batchSize: 5000,
    partitions: 3,
    settings: {
      ...BENCH_SETTINGS,
      // Batch requests of the default 500 payloads and 500 KB.
      ...(delivery === 'batch' && { ANALYTICS_DELIVERY: 'batch' }),
    },
  });
  try {
    await Promise.all([
      pipeline.crm.setRecords(sampleCustomers(records, false)),
      pipeline.inventory.setRecords(sampleProducts(records, false)),
      pipeline.crm.trackServed(),
      pipeline.inventory.trackServed(),
    ]);
    const started = Date.now();
    await pipeline.runCycle();
    const deadline = Date.now() + 300_000;
    while ((await pipeline.analytics.stats()).received < records && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [received, crmServed, inventoryServed] = await Promise.all([
      pipeline.analytics.receipts(),
      pipeline.crm.servedAt(),
      pipeline.inventory.servedAt(),
    ]);
    if (received.length < records) {
      throw new Error(`end to end: ${received.length} of ${records} payloads arrived in time`);
    }
    const last = Math.max(...received.map((entry) => entry.at));
    const latencies = received
      .map(
        (entry) =>
          entry.at -
          Math.max(crmServed.get(entry.id) ?? started, inventoryServed.get(entry.id) ?? started),
      )
      .sort((a, b) => a - b);
    const seconds = (last - started) / 1000;
    return {
      records: records * 2,
      payloads: received.length,
      seconds,
      perSecond: (records * 2) / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
    };
  } finally {
    await pipeline.stop();
    await pipeline.deleteState();
  }
}
