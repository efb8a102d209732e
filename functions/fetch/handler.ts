import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { type FetchSummary, fetchSource } from '../../shared/use-cases/fetch-source.ts';
import {
  operateSyncState,
  type StateAnswer,
  StateOperationError,
} from '../../shared/use-cases/operate-sync-state.ts';
import { publishFetchMetrics } from './metrics.ts';
import type { FetchRuntime } from './runtime.ts';

/**
 * What EventBridge Scheduler sends; every field is optional. `full: true` ignores the saved
 * cursor and re-reads the whole source.
 */
export type FetchEvent = { correlationId?: string; full?: boolean } | undefined;

/**
 * An operator's direct invoke (`npm run state -- --aws`): `{"state": {"op": "show"}}`, `reset`
 * or `backfill` with an optional `from`. Told from a scheduled event by its `state` field, which
 * no schedule sends; only that field is allowed beside it.
 */
export type StateEvent = { state: unknown };

function isStateEvent(event: unknown): event is StateEvent {
  return typeof event === 'object' && event !== null && 'state' in event;
}

/**
 * The fetch handler over a built runtime: one run (or part of one) of the source, one summary;
 * or, for a state event, the operation on the source's sync state and its answer.
 */
export function createFetchHandler(runtime: FetchRuntime) {
  async function handler(event: StateEvent, context?: Context): Promise<StateAnswer>;
  async function handler(event: FetchEvent, context?: Context): Promise<FetchSummary>;
  async function handler(
    event: FetchEvent | StateEvent,
    context?: Context,
  ): Promise<FetchSummary | StateAnswer> {
    if (isStateEvent(event)) return operate(runtime, event);
    return run(runtime, event, context);
  }
  return handler;
}

/** A state operation, logged with its outcome; the sync state lives in the fetch's Redis. */
async function operate(runtime: FetchRuntime, event: StateEvent): Promise<StateAnswer> {
  const { logger, source } = runtime;
  const extra = Object.keys(event).filter((key) => key !== 'state');
  if (extra.length > 0) {
    throw new StateOperationError(
      `a state operation takes only "state"; it also had ${extra.map((key) => `"${key}"`).join(', ')}`,
    );
  }
  const admin = await runtime.state();
  if (!admin) {
    throw new StateOperationError(
      `the fetch function of ${source.name} has no REDIS_URL: it keeps no cursor to show or rewind`,
    );
  }
  try {
    const answer = await operateSyncState(source, event.state, admin);
    logger.info('sync state operation', { source: source.name, op: answer.op, done: answer.done });
    return answer;
  } catch (error) {
    logger.warn('sync state operation refused', {
      source: source.name,
      error: (error as Error).message,
    });
    throw error;
  }
}

/** One run (or part of one) of the source: its summary, logged and counted. */
async function run(
  runtime: FetchRuntime,
  event: FetchEvent,
  context?: Context,
): Promise<FetchSummary> {
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
}
