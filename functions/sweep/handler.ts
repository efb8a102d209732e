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

/** The answer to `{"list": N}`: the join, its pending count, the oldest first-seen time, the ids. */
export type PendingAnswer = {
  join: string;
  /** The sides an id needs before its complete payload goes out. */
  required: string[];
  stats: { pending: number; oldestFirstSeenMs: number | null };
  pending: PendingListing[];
};

/**
 * The sweeper handler: applies the join's missing-side policy and writes the orphan metrics.
 * Throws when Redis or the dead-letter sink fail; the next scheduled sweep redoes the work.
 */
export function createSweepHandler(
  runtime: Pick<MergeRuntime, 'ready' | 'logger'>,
  metrics: MetricsSink,
  limit: number,
) {
  return async (event?: SweepEvent, context?: Context): Promise<SweepSummary | PendingAnswer> => {
    const { logger } = runtime;
    if (context) logger.addContext(context);
    const deps = await runtime.ready();
    if (event?.list !== undefined) {
      const limit = Number(event.list);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
        throw new Error(`list must be a whole number from 1 to 10000, got ${String(event.list)}`);
      const [stats, pending] = await Promise.all([deps.pending.stats(), deps.pending.list(limit)]);
      return { join: deps.join.name, required: deps.join.required, stats, pending };
    }
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
