import type { Context, MSKEvent } from 'aws-lambda';
import { decodeMskEvent } from '../../shared/domain/msk-event.ts';
import { type MergeSummary, mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { publishMergeMetrics } from './metrics.ts';
import type { MergeRuntime } from './runtime.ts';

/** A context for callers that are not Lambda (the local runtime): 60 s to finish a batch. */
const LOCAL_CONTEXT = { getRemainingTimeInMillis: () => 60_000 };

/**
 * The merge handler over a built runtime. Throws when the batch must be retried (Redis, Kafka
 * or the dead-letter sink failed), so the event source mapping does not move past it.
 */
export function createMergeHandler(runtime: MergeRuntime) {
  return async (event: MSKEvent, context?: Context): Promise<MergeSummary> => {
    const { logger } = runtime;
    if (context) logger.addContext(context);
    const records = decodeMskEvent(event);
    const correlationIds = [
      ...new Set(records.map((record) => record.headers['correlation-id']).filter(Boolean)),
    ];
    try {
      const deps = await runtime.ready();
      deps.delivery.registerInvocation(context ?? LOCAL_CONTEXT);
      const summary = await mergeBatch(records, deps);
      logger.info('merge summary', { summary, correlationIds: correlationIds.slice(0, 10) });
      publishMergeMetrics(runtime.metrics, records.length, summary, runtime.analyticsCalls.drain());
      return summary;
    } catch (error) {
      logger.error('merge batch failed; it will be retried', {
        error: error as Error,
        records: records.length,
      });
      publishMergeMetrics(
        runtime.metrics,
        records.length,
        undefined,
        runtime.analyticsCalls.drain(),
      );
      throw error;
    }
  };
}
