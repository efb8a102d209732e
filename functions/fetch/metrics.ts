import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricsSink } from '../../shared/metrics.ts';
import type { FetchSummary } from '../../shared/use-cases/fetch-source.ts';

/** Adds one fetch run's counts, and whether it succeeded, then writes them. */
export function publishFetchMetrics(metrics: MetricsSink, summary: FetchSummary | undefined): void {
  metrics.addMetric('FetchSucceeded', MetricUnit.Count, summary ? 1 : 0);
  if (summary) {
    metrics.addMetric('Fetched', MetricUnit.Count, summary.fetched);
    metrics.addMetric('Published', MetricUnit.Count, summary.published);
    metrics.addMetric('Quarantined', MetricUnit.Count, summary.quarantined);
    metrics.addMetric('Retries', MetricUnit.Count, summary.retries);
    // Schema drift: undeclared fields first seen (evolve), values removed (discard_value).
    metrics.addMetric('NewFields', MetricUnit.Count, summary.newFields?.length ?? 0);
    metrics.addMetric('DiscardedValues', MetricUnit.Count, summary.discardedValues ?? 0);
    metrics.addMetric('FetchDuration', MetricUnit.Milliseconds, summary.durationMs);
  }
  metrics.publishStoredMetrics();
}
