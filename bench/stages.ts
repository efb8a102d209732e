import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { createFetchHandler } from '../functions/fetch/handler.ts';
import { buildFetchRuntime } from '../functions/fetch/runtime.ts';
import { createMergeHandler } from '../functions/merge/handler.ts';
import { buildMergeRuntime } from '../functions/merge/runtime.ts';
import { sampleCustomers, sampleProducts } from '../local/mocks/dataset.ts';
import { AnalyticsMock, SourceMock } from '../local/mocks/servers.ts';
import { startLocalPipeline } from '../local/pipeline.ts';
import { ensureTopics } from '../shared/adapters/kafka-topics.ts';
import { loadFetchConfig, loadMergeConfig } from '../shared/config.ts';
import { type DecodedRecord, encodeMskEvent } from '../shared/domain/msk-event.ts';
import { TOPICS } from '../shared/sources/registry.ts';

/** Settings shared by every stage: logs at WARN (per-record INFO lines are measured apart). */
export const BENCH_SETTINGS = { LOG_LEVEL: 'WARN', METRICS: 'off' };

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

function recordsOf(topic: string, raws: Record<string, unknown>[]): DecodedRecord[] {
  const now = Date.now();
  return raws.map((raw, index) => ({
    topic,
    partition: 0,
    offset: String(index),
    timestamp: now,
    key: String(raw.id),
    value: JSON.stringify(raw),
    headers: { 'fetched-at': new Date(now).toISOString(), 'correlation-id': 'bench' },
  }));
}

/**
 * The merge handler alone on one MSK batch of `size` customers whose products are already in the
 * join state: every record joins, is checked against the idempotency store, and is POSTed to an
 * Analytics mock that answers at once. Returns records/s and the memory the batch took.
 */
export async function mergeStage(env: Env, size: number) {
  const topicPrefix = prefix('merge');
  const analytics = await new AnalyticsMock().start();
  const runtime = buildMergeRuntime(
    loadMergeConfig({
      ...BENCH_SETTINGS,
      KAFKA_BROKERS: env.brokers,
      TOPIC_PREFIX: topicPrefix,
      REDIS_URL: env.redisUrl,
      REDIS_KEY_PREFIX: topicPrefix,
      ANALYTICS_URL: analytics.url,
    }),
  );
  const merge = createMergeHandler(runtime);
  const meta = { eventSourceArn: 'arn:aws:kafka:bench:0:cluster/bench', bootstrapServers: '' };
  try {
    const products = encodeMskEvent(
      recordsOf(topicPrefix + TOPICS.inventory, sampleProducts(size, false)),
      meta,
    );
    const customers = encodeMskEvent(
      recordsOf(topicPrefix + TOPICS.customer, sampleCustomers(size, false)),
      meta,
    );
    await merge(products);
    global.gc?.();
    const before = process.memoryUsage();
    let peakHeap = before.heapUsed;
    let peakRss = before.rss;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peakHeap = Math.max(peakHeap, now.heapUsed);
      peakRss = Math.max(peakRss, now.rss);
    }, 5);
    const started = performance.now();
    const summary = await merge(customers);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    if (summary.posted !== size) {
      throw new Error(`merge bench posted ${summary.posted} of ${size}; the run is not comparable`);
    }
    return {
      records: size,
      seconds,
      perSecond: size / seconds,
      heapGrowthMb: (peakHeap - before.heapUsed) / 2 ** 20,
      peakRssMb: peakRss / 2 ** 20,
    };
  } finally {
    await runtime.close();
    await analytics.close();
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/**
 * End to end: both sources fetched at once, the emulated event source mappings feeding the merge
 * handler, until the last payload reaches Analytics. Latency of a payload: from the moment its
 * later side was served by its source to its receipt by Analytics.
 */
export async function endToEnd(env: Env, records: number) {
  const topicPrefix = prefix('e2e');
  const pipeline = await startLocalPipeline({
    brokers: env.brokers,
    redisUrl: env.redisUrl,
    topicPrefix,
    redisKeyPrefix: topicPrefix,
    records,
    pageSize: 1000,
    batchSize: 5000,
    partitions: 3,
    settings: BENCH_SETTINGS,
  });
  try {
    pipeline.crm.records = sampleCustomers(records, false);
    pipeline.inventory.records = sampleProducts(records, false);
    pipeline.crm.servedAt = new Map();
    pipeline.inventory.servedAt = new Map();
    const started = Date.now();
    await pipeline.runCycle();
    const deadline = Date.now() + 300_000;
    while (pipeline.analytics.received.length < records && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const received = pipeline.analytics.received;
    if (received.length < records) {
      throw new Error(`end to end: ${received.length} of ${records} payloads arrived in time`);
    }
    const last = Math.max(...received.map((entry) => entry.at));
    const latencies = received
      .map(
        (entry) =>
          entry.at -
          Math.max(
            pipeline.crm.servedAt?.get(entry.id) ?? started,
            pipeline.inventory.servedAt?.get(entry.id) ?? started,
          ),
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
  }
}
