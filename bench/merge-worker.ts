import { createMergeHandler } from '../functions/merge/handler.ts';
import { buildMergeRuntime } from '../functions/merge/runtime.ts';
import { sampleCustomers, sampleProducts } from '../local/mocks/dataset.ts';
import { loadMergeConfig } from '../shared/config.ts';
import { type DecodedRecord, encodeMskEvent } from '../shared/domain/msk-event.ts';
import { TOPICS } from '../shared/sources/registry.ts';

/**
 * One merge-stage measurement in a process of its own (as a Lambda container would be): the
 * Analytics mock lives in the parent, so its CPU and memory are not counted here. Prints one
 * JSON line with the figures.
 */
type Job = {
  size: number;
  brokers: string;
  redisUrl: string;
  analyticsUrl: string;
  prefix: string;
  /** POSTs in flight (ANALYTICS_CONCURRENCY); the default when absent. */
  concurrency?: number;
};

const job = JSON.parse(process.argv[2] ?? '{}') as Job;

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

const runtime = buildMergeRuntime(
  loadMergeConfig({
    LOG_LEVEL: 'WARN',
    METRICS: 'off',
    KAFKA_BROKERS: job.brokers,
    TOPIC_PREFIX: job.prefix,
    REDIS_URL: job.redisUrl,
    REDIS_KEY_PREFIX: job.prefix,
    ANALYTICS_URL: job.analyticsUrl,
    ...(job.concurrency !== undefined && { ANALYTICS_CONCURRENCY: String(job.concurrency) }),
  }),
);
const merge = createMergeHandler(runtime);
const meta = { eventSourceArn: 'arn:aws:kafka:bench:0:cluster/bench', bootstrapServers: '' };
const products = encodeMskEvent(
  recordsOf(job.prefix + TOPICS.inventory, sampleProducts(job.size, false)),
  meta,
);
const customers = encodeMskEvent(
  recordsOf(job.prefix + TOPICS.customer, sampleCustomers(job.size, false)),
  meta,
);
// Warm: connections open, scripts loaded, the products' side of every join in place.
await merge(products);
const baselineRss = process.memoryUsage.rss();
let peakRss = baselineRss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 5);
const cpuBefore = process.cpuUsage();
const started = performance.now();
const summary = await merge(customers);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
await runtime.close();
process.stdout.write(
  `${JSON.stringify({ posted: summary.posted, seconds, cpuSeconds, baselineRssMb: baselineRss / 2 ** 20, peakRssMb: peakRss / 2 ** 20 })}\n`,
);
process.exit(0);
