import type { Context, MSKEvent } from 'aws-lambda';
import { createMskReader, recordSchemaOf } from '../../shared/adapters/msk-records.ts';
import type { DecodedRecord } from '../../shared/domain/kafka-record.ts';
import {
  type HeldRecord,
  type MergeSummary,
  mergeBatch,
} from '../../shared/use-cases/merge-batch.ts';
import { settleOnDemand } from '../../shared/use-cases/settle-on-demand.ts';
import { publishFailedBatchRecords, publishMergeMetrics } from './metrics.ts';
import { rawRecordsOf } from './raw-records.ts';
import type { MergeReady, MergeRuntime } from './runtime.ts';

/** A context for callers that are not Lambda (the local runtime): 60 s to finish a batch. */
const LOCAL_CONTEXT = { getRemainingTimeInMillis: () => 60_000 };

/**
 * Lambda's partial batch response for a Kafka event source mapping (ReportBatchItemFailures):
 * each failed record by its "topic-partition" and offset. Lambda retries each partition from
 * its lowest failed offset; an empty list is a complete success.
 */
export type KafkaBatchResponse = {
  batchItemFailures: { itemIdentifier: { partition: string; offset: number } }[];
};

/** The merge's summary of a batch and the partial batch response it makes. */
export type MergeResult = MergeSummary &
  KafkaBatchResponse & {
    /** On-demand mode: records the merge wrote to their failed topic after the last retry. */
    failedBatchRecords?: number;
  };

/** The held records as batch item failures, one per record. */
export function batchItemFailuresOf(held: readonly HeldRecord[]): KafkaBatchResponse {
  return {
    batchItemFailures: held.map((record) => ({
      itemIdentifier: {
        partition: `${record.topic}-${record.partition}`,
        offset: Number(record.offset),
      },
    })),
  };
}

/**
 * The merge handler over a built runtime. The MSK event is decoded here, at the edge, with
 * Powertools' Kafka consumer and each source topic's schema. Records whose payload another
 * invocation holds in progress come back as batch item failures (retried by the mapping);
 * throws when the whole batch must be retried (Redis, Kafka or the dead-letter sink failed),
 * so the event source mapping does not move past it.
 */
export function createMergeHandler(runtime: MergeRuntime) {
  let read: ((event: MSKEvent) => Promise<DecodedRecord[]>) | undefined;
  const readerOf = (deps: MergeReady) => {
    read ??= createMskReader({
      schemaFor: (topic) => {
        const source = deps.sourceForTopic(topic);
        return source && recordSchemaOf(source);
      },
      maxRecordBytes: deps.maxRecordBytes,
    });
    return read;
  };
  /** One attempt at the batch: its summary, or throws. Logged and counted either way. */
  const attempt = async (
    event: MSKEvent,
    received: number,
    context?: Context,
  ): Promise<MergeSummary> => {
    const { logger } = runtime;
    let correlationIds: string[] = [];
    try {
      const deps = await runtime.ready();
      const records = await readerOf(deps)(event);
      correlationIds = [
        ...new Set(records.map((record) => record.headers['correlation-id']).filter(Boolean)),
      ] as string[];
      deps.delivery.registerInvocation(context ?? LOCAL_CONTEXT);
      const summary = await mergeBatch(records, deps);
      logger.info('merge summary', { summary, correlationIds: correlationIds.slice(0, 10) });
      publishMergeMetrics(runtime.metrics, received, summary, runtime.analyticsCalls.drain());
      return summary;
    } catch (error) {
      logger.error('merge batch failed; it will be retried', {
        error: error as Error,
        records: received,
        correlationIds: correlationIds.slice(0, 10),
      });
      publishMergeMetrics(runtime.metrics, received, undefined, runtime.analyticsCalls.drain());
      throw error;
    }
  };

  return async (event: MSKEvent, context?: Context): Promise<MergeResult> => {
    if (context) runtime.logger.addContext(context);
    const received = Object.values(event.records ?? {}).reduce((n, group) => n + group.length, 0);
    const onDemand = runtime.onDemand;
    if (!onDemand) {
      const summary = await attempt(event, received, context);
      return { ...summary, ...batchItemFailuresOf(summary.retry) };
    }
    // On-demand mapping: no partial batch response (a returned list would be read as success
    // and the held records committed), so held records throw and the merge keeps its own
    // retry budget (docs/design.md, "Mappings without provisioned pollers").
    let summary: MergeSummary | undefined;
    const outcome = await settleOnDemand(
      rawRecordsOf(event),
      async () => {
        summary = await attempt(event, received, context);
        return summary;
      },
      onDemand,
    );
    if (outcome.outcome === 'gave-up') {
      runtime.logger.error('batch written to its failed topic after its last retry', {
        records: outcome.failedRecords,
        reason: outcome.reason,
      });
      publishFailedBatchRecords(runtime.metrics, outcome.failedRecords);
      return {
        ...emptySummary(received),
        batchItemFailures: [],
        failedBatchRecords: outcome.failedRecords,
      };
    }
    return { ...(summary ?? emptySummary(received)), batchItemFailures: [] };
  };
}

/** The summary of a batch the merge did not finish (it was written to its failed topic). */
function emptySummary(records: number): MergeSummary {
  return {
    records,
    quarantined: 0,
    merged: 0,
    waiting: 0,
    posted: 0,
    duplicates: 0,
    deadLettered: 0,
    held: 0,
    retry: [],
    durationMs: 0,
  };
}
