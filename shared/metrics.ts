import { Metrics, type MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from './metrics-names.ts';

/** The two calls each function makes on its metrics; Powertools' Metrics provides them. */
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
