import type { Context } from 'aws-lambda';
import type { MetricsSink } from '../../shared/metrics.ts';
import type { PendingListing } from '../../shared/ports.ts';
import { type SweepSummary, sweepPending } from '../../shared/use-cases/sweep-pending.ts';
import type { MergeRuntime } from '../merge/runtime.ts';
import { publishSweepMetrics } from './metrics.ts';

/** A context for callers that are not Lambda (the local timer): 60 s to finish a sweep. */
const LOCAL_CONTEXT = { getRemainingTimeInMillis: () => 60_000 };

/** `{}` (the schedule) sweeps; `{"list": N}` answers the N oldest pending ids instead. */
export type SweepEvent = { list?: number } | undefined;

/**
 * The sweeper handler: applies the join's missing-side policy and writes the orphan metrics.
 * Throws when Redis or the dead-letter sink fail; the next scheduled sweep redoes the work.
 */
export function createSweepHandler(
  runtime: Pick<MergeRuntime, 'ready' | 'logger'>,
  metrics: MetricsSink,
  limit: number,
) {
  return async (
    event?: SweepEvent,
    context?: Context,
  ): Promise<SweepSummary | { pending: PendingListing[] }> => {
    const { logger } = runtime;
    if (context) logger.addContext(context);
    const deps = await runtime.ready();
    if (event?.list !== undefined) return { pending: await deps.pending.list(event.list) };
    deps.delivery.registerInvocation(context ?? LOCAL_CONTEXT);
    try {
      const summary = await sweepPending({ ...deps, now: Date.now, limit });
      logger.info('sweep summary', { summary });
      publishSweepMetrics(metrics, summary);
      return summary;
    } catch (error) {
      logger.error('sweep failed; the next one redoes it', { error: error as Error });
      publishSweepMetrics(metrics, undefined);
      throw error;
    }
  };
}
