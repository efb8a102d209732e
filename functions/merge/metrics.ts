import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricsSink } from '../../shared/metrics.ts';
import type { MergeSummary } from '../../shared/use-cases/merge-batch.ts';

/** Most latency values one invocation writes: CloudWatch takes 100 values per metric per line. */
const LATENCY_SAMPLES = 100;

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

/**
 * Records the merge wrote to a failed topic itself, after an on-demand mapping's batch spent its
 * retry budget: the count Lambda's own on-failure destination would stand for in provisioned
 * mode, for the failed-batch alarm of the small profile.
 */
export function publishFailedBatchRecords(metrics: MetricsSink, records: number): void {
  metrics.addMetric('FailedBatchRecords', MetricUnit.Count, records);
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

/**
 * What the merge's Analytics calls measured since the last drain: each request's latency and
 * the ambiguous retries (the delivery's hooks feed it; the handler drains it after each batch).
 */
export class AnalyticsCallRecorder {
  #latencies: number[] = [];
  #ambiguousSinceDrain = 0;
  #ambiguousTotal = 0;

  /** Adds one request's latency, in milliseconds. */
  latency(ms: number): void {
    this.#latencies.push(ms);
  }

  /** Counts a retry after an ambiguous failure, once per payload it exposes. */
  ambiguousRetry(payloads: number): void {
    this.#ambiguousSinceDrain += payloads;
    this.#ambiguousTotal += payloads;
  }

  /** Ambiguous retries since the recorder was made. */
  get ambiguousRetries(): number {
    return this.#ambiguousTotal;
  }

  /** What was measured since the last call. */
  drain(): AnalyticsCalls {
    const calls = { latenciesMs: this.#latencies, ambiguousRetries: this.#ambiguousSinceDrain };
    this.#latencies = [];
    this.#ambiguousSinceDrain = 0;
    return calls;
  }
}
