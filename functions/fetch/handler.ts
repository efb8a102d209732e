import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { type FetchSummary, fetchSource } from '../../shared/use-cases/fetch-source.ts';
import { publishFetchMetrics } from './metrics.ts';
import type { FetchRuntime } from './runtime.ts';

/**
 * What EventBridge Scheduler sends; every field is optional. `full: true` ignores the saved
 * cursor and re-reads the whole source.
 */
export type FetchEvent = { correlationId?: string; full?: boolean } | undefined;

/** The fetch handler over a built runtime: one run (or part of one) of the source, one summary. */
export function createFetchHandler(runtime: FetchRuntime) {
  return async (event: FetchEvent, context?: Context): Promise<FetchSummary> => {
    const { logger, source, config } = runtime;
    const correlationId = event?.correlationId ?? randomUUID();
    const started = Date.now();
    if (context) logger.addContext(context);
    logger.appendKeys({ correlationId, source: source.name });
    const limits = [
      context ? context.getRemainingTimeInMillis() : undefined,
      config.FETCH_TIME_LIMIT_MS,
    ].filter((limit): limit is number => limit !== undefined);
    const stopAt =
      limits.length > 0 ? started + Math.min(...limits) - config.FETCH_STOP_MARGIN_MS : undefined;
    try {
      const summary = await fetchSource({
        source,
        topic: runtime.topic,
        endpoint: config.endpoint,
        reader: runtime.newReader(),
        publisher: runtime.publisher,
        quarantine: runtime.quarantine,
        log: logger,
        correlationId,
        pageSize: runtime.pageSize,
        maxPages: config.MAX_PAGES,
        maxRecordBytes: config.MAX_RECORD_BYTES,
        sightings: runtime.sightings,
        state: await runtime.state(),
        full: event?.full === true,
        leaseMs: config.FETCH_LEASE_MS,
        ...(stopAt !== undefined && { stopAt }),
      });
      logger.info('fetch summary', { summary });
      publishFetchMetrics(runtime.metrics, summary);
      return summary;
    } catch (error) {
      logger.error('fetch failed', { error: error as Error });
      publishFetchMetrics(runtime.metrics, undefined);
      throw error;
    } finally {
      logger.removeKeys(['correlationId', 'source']);
    }
  };
}
