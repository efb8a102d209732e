import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricsSink } from '../../shared/metrics.ts';
import type { SweepSummary } from '../../shared/use-cases/sweep-pending.ts';

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
