import { Duration } from 'aws-cdk-lib';
import { MathExpression, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { METRICS_NAMESPACE } from '../../shared/metrics-names.ts';

/** An EMF metric the functions publish, summed (or `statistic`) over `periodMinutes`. */
export function pipelineMetric(
  metricName: string,
  dimensions: { service: string } & Record<string, string>,
  periodMinutes: number,
  statistic = 'Sum',
): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: dimensions,
    statistic,
    period: Duration.minutes(periodMinutes),
  });
}

/**
 * A sweeper's EMF metric of one join (dimensions service=sweep, join), its largest value over
 * five minutes: the sweeper writes one every minute.
 */
export function sweepMetric(metricName: string, join: string): Metric {
  return pipelineMetric(metricName, { service: 'sweep', join }, 5, 'Maximum');
}

/**
 * One AWS/Lambda metric of event source mappings, summed over the mappings (dimension
 * EventSourceMappingUUID) per minute. The event-count metrics (OnFailureDestinationDelivered-
 * EventCount, DroppedEventCount, …) and the error-count ones are published per mapping UUID once
 * the mapping's MetricsConfig turns their group on.
 */
export function mappingMetric(
  metricName: string,
  mappingIds: string[],
  label: string,
): MathExpression {
  const usingMetrics: Record<string, Metric> = {};
  mappingIds.forEach((uuid, index) => {
    usingMetrics[`m${index}`] = new Metric({
      namespace: 'AWS/Lambda',
      metricName,
      dimensionsMap: { EventSourceMappingUUID: uuid },
      statistic: 'Sum',
      period: Duration.minutes(1),
    });
  });
  return new MathExpression({
    expression: `SUM([${Object.keys(usingMetrics).join(', ')}])`,
    usingMetrics,
    period: Duration.minutes(1),
    label,
  });
}
