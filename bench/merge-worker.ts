import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createMergeHandler } from '../functions/merge/handler.ts';
import { buildMergeRuntime } from '../functions/merge/runtime.ts';
import { sampleCustomers, sampleProducts } from '../local/mocks/dataset.ts';
import { mskBatchOf } from '../local/msk-batch.ts';
import { loadMergeConfig } from '../shared/config.ts';
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
  /** ANALYTICS_DELIVERY: one payload per POST, or batch requests (default settings). */
  delivery?: 'single' | 'batch';
};

const job = JSON.parse(process.argv[2] ?? '{}') as Job;

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
    ...(job.delivery !== undefined && { ANALYTICS_DELIVERY: job.delivery }),
  }),
);
const merge = createMergeHandler(runtime);
// Ids 1..1000 warm the container (connections, scripts, JIT) through a whole merge; the
// measured batch is ids 1001.. whose products are already joined, so every record posts.
const WARM = 1_000;
const event = (topic: string, raws: Record<string, unknown>[]) =>
  mskBatchOf(job.prefix + topic, raws, 'bench');
// The generated records live only for the warm-up: the measured container holds its event,
// not the harness's source data.
const measured = await (async () => {
  const customers = sampleCustomers(WARM + job.size, false);
  await merge(event(TOPICS.inventory, sampleProducts(WARM + job.size, false)));
  await merge(event(TOPICS.customer, customers.slice(0, WARM)));
  return event(TOPICS.customer, customers.slice(WARM));
})();
const baselineRss = process.memoryUsage.rss();
const peak = peakRssMeter();
const profiler = process.env.MERGE_CPU_PROFILE ? await startProfile() : undefined;
const heapProfiler = process.env.MERGE_HEAP_PROFILE ? await startHeapProfile() : undefined;
const cpuBefore = process.cpuUsage();
const loopBefore = performance.eventLoopUtilization();
const started = performance.now();
const summary = await merge(measured);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
// Time the event loop sat idle in the batch: waiting for Redis or Analytics to answer.
const idleSeconds = performance.eventLoopUtilization(loopBefore).idle / 1000;
let peakRss = peak.stop();
if (profiler) await profiler.stop(process.env.MERGE_CPU_PROFILE as string);
if (heapProfiler) await heapProfiler.stop(process.env.MERGE_HEAP_PROFILE as string);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
// The same batch again, as a retried batch (the same event) or an unchanged fetch brings it: all
// duplicates.
const again = performance.now();
const repeat = await merge(measured);
const repeatSeconds = (performance.now() - again) / 1000;
if (repeat.duplicates !== job.size) throw new Error(`repeat found ${repeat.duplicates} duplicates`);
await runtime.close();
process.stdout.write(
  `${JSON.stringify({ posted: summary.posted, seconds, cpuSeconds, idleSeconds, repeatSeconds, baselineRssMb: baselineRss / 2 ** 20, peakRssMb: peakRss / 2 ** 20 })}\n`,
);
process.exit(0);

/**
 * MERGE_CPU_PROFILE=<file>: a V8 CPU profile of the measured batch alone (not the warm-up), for
 * Chrome DevTools or `npx tsx bench/profile-summary.ts <file>`.
 */
async function startProfile() {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return {
    async stop(file: string) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/**
 * MERGE_HEAP_PROFILE=<file>: a sampling heap profile of the measured batch, counting what was
 * allocated and collected too (what the garbage collector works through), for Chrome DevTools.
 */
async function startHeapProfile() {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return {
    async stop(file: string) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/**
 * The peak RSS of the measured batch, in bytes. On Linux it is the kernel's high-water mark
 * (VmHWM), reset to the current RSS just before the batch (`/proc/self/clear_refs`): exact, and
 * nothing runs during the batch to measure it. Elsewhere RSS is sampled every 5 ms, which costs
 * the batch a little CPU and can miss a short peak.
 */
function peakRssMeter(): { stop(): number } {
  const highWaterMark = () => {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb === undefined) throw new Error('no VmHWM in /proc/self/status');
    return Number(kb) * 1024;
  };
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    highWaterMark();
    return { stop: highWaterMark };
  } catch {
    let sampled = process.memoryUsage.rss();
    const sampler = setInterval(() => {
      sampled = Math.max(sampled, process.memoryUsage.rss());
    }, 5);
    return {
      stop() {
        clearInterval(sampler);
        return Math.max(sampled, process.memoryUsage.rss());
      },
    };
  }
}
