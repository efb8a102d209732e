import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MergedPayload } from './domain/merge.ts';
import { METRICS_NAMESPACE } from './metrics-names.ts';
import type { FetchSummary } from './pipeline/fetch-source.ts';
import type { MergeSummary } from './pipeline/merge-batch.ts';
import type { SweepSummary } from './pipeline/sweep-pending.ts';
import type { AnalyticsSink } from './ports.ts';

/** Most latency values one invocation writes: CloudWatch takes 100 values per metric per line. */
const LATENCY_SAMPLES = 100;

/** The two calls the pipeline makes on its metrics; Powertools' Metrics provides them. */
export type MetricsSink = {
  addMetric(
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
  ): unknown;
  publishStoredMetrics(): unknown;
};

const NO_METRICS: MetricsSink = { addMetric: () => {}, publishStoredMetrics: () => {} };

/**
 * The metrics of one function, as CloudWatch embedded-metric-format lines on stdout. The
 * `service` dimension is the function's role (`fetch-crm`, `merge`), which the dashboard and the
 * alarms select on; `dimensions` go with every metric too (the sweeper's `join`).
 */
export function createMetrics(
  service: string,
  mode: 'emf' | 'off',
  dimensions: Record<string, string> = {},
): MetricsSink {
  if (mode === 'off') return NO_METRICS;
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: service,
    defaultDimensions: dimensions,
  });
}

/** Adds one fetch run's counts, and whether it succeeded, then writes them. */
export function publishFetchMetrics(metrics: MetricsSink, summary: FetchSummary | undefined): void {
  metrics.addMetric('FetchSucceeded', MetricUnit.Count, summary ? 1 : 0);
  if (summary) {
    metrics.addMetric('Fetched', MetricUnit.Count, summary.fetched);
    metrics.addMetric('Published', MetricUnit.Count, summary.published);
    metrics.addMetric('Quarantined', MetricUnit.Count, summary.quarantined);
    metrics.addMetric('Retries', MetricUnit.Count, summary.retries);
    metrics.addMetric('FetchDuration', MetricUnit.Milliseconds, summary.durationMs);
  }
  metrics.publishStoredMetrics();
}

/** What one invocation's Analytics calls measured: POST latencies and ambiguous retries. */
export type AnalyticsCalls = { latenciesMs: number[]; ambiguousRetries: number };

/**
 * Adds one merge batch's counts, a sample of its Analytics latencies and its ambiguous retries
 * (retries after a timeout or reset once the POST was sent, which a sink that ignores the
 * Idempotency-Key may receive twice), then writes them.
 */
export function publishMergeMetrics(
  metrics: MetricsSink,
  batchSize: number,
  summary: MergeSummary | undefined,
  { latenciesMs, ambiguousRetries }: AnalyticsCalls,
): void {
  metrics.addMetric('BatchSize', MetricUnit.Count, batchSize);
  metrics.addMetric('BatchFailed', MetricUnit.Count, summary ? 0 : 1);
  if (summary) {
    metrics.addMetric('Merged', MetricUnit.Count, summary.merged);
    metrics.addMetric('Posted', MetricUnit.Count, summary.posted);
    metrics.addMetric('DuplicatesSkipped', MetricUnit.Count, summary.duplicates);
    metrics.addMetric('DeadLettered', MetricUnit.Count, summary.deadLettered);
    metrics.addMetric('Quarantined', MetricUnit.Count, summary.quarantined);
  }
  metrics.addMetric('AmbiguousRetries', MetricUnit.Count, ambiguousRetries);
  for (const value of sampleEvenly(latenciesMs, LATENCY_SAMPLES)) {
    metrics.addMetric('AnalyticsLatency', MetricUnit.Milliseconds, value);
  }
  metrics.publishStoredMetrics();
}

/** One sweep's view of the orphans (pending ids, oldest age) and what the policy did. */
export function publishSweepMetrics(metrics: MetricsSink, summary: SweepSummary | undefined): void {
  metrics.addMetric('SweepFailed', MetricUnit.Count, summary ? 0 : 1);
  if (summary) {
    metrics.addMetric('PendingIds', MetricUnit.Count, summary.pending);
    metrics.addMetric('OldestPendingAge', MetricUnit.Seconds, (summary.oldestAgeMs ?? 0) / 1000);
    metrics.addMetric('PartialsEmitted', MetricUnit.Count, summary.emitted);
    metrics.addMetric('PendingDropped', MetricUnit.Count, summary.dropped);
    metrics.addMetric('DeadLettered', MetricUnit.Count, summary.deadLettered);
  }
  metrics.publishStoredMetrics();
}

/**
 * At most `limit` values that keep the shape of the distribution: the sorted values at evenly
 * spaced ranks, always including the smallest and the largest.
 */
function sampleEvenly(values: number[], limit: number): number[] {
  if (values.length <= limit) return values;
  const sorted = [...values].sort((a, b) => a - b);
  const step = (sorted.length - 1) / (limit - 1);
  return Array.from({ length: limit }, (_, index) => sorted[Math.round(index * step)] ?? 0);
}

/** An AnalyticsSink that times each successful POST (retries included) for the metrics. */
export class TimedAnalyticsSink implements AnalyticsSink {
  #latencies: number[] = [];

  constructor(private readonly inner: AnalyticsSink) {}

  async post(payload: MergedPayload, hash: string): Promise<{ attempts: number }> {
    const started = performance.now();
    const result = await this.inner.post(payload, hash);
    this.#latencies.push(performance.now() - started);
    return result;
  }

  /** Adds a latency measured elsewhere (a batch request's), in milliseconds. */
  record(ms: number): void {
    this.#latencies.push(ms);
  }

  /** The latencies since the last call, in milliseconds. */
  drain(): number[] {
    const latencies = this.#latencies;
    this.#latencies = [];
    return latencies;
  }
}
