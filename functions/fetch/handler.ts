import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { publishFetchMetrics } from '../../shared/metrics.ts';
import { type FetchSummary, fetchSource } from '../../shared/pipeline/fetch-source.ts';
import type { FetchRuntime } from './runtime.ts';

/** What EventBridge Scheduler sends; every field is optional. */
export type FetchEvent = { correlationId?: string } | undefined;

/** The fetch handler over a built runtime: one run of the source, one summary line. */
export function createFetchHandler(runtime: FetchRuntime) {
  return async (event: FetchEvent, context?: Context): Promise<FetchSummary> => {
    const { logger, source, config } = runtime;
    const correlationId = event?.correlationId ?? randomUUID();
    if (context) logger.addContext(context);
    logger.appendKeys({ correlationId, source: source.name });
    try {
      const summary = await fetchSource({
        source,
        topic: runtime.topic,
        reader: runtime.newReader(),
        publisher: runtime.publisher,
        quarantine: runtime.quarantine,
        log: logger,
        correlationId,
        pageSize: config.PAGE_SIZE,
        maxPages: config.MAX_PAGES,
        maxRecordBytes: config.MAX_RECORD_BYTES,
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
