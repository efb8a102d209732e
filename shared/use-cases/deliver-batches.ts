import { yieldToEventLoop } from '../concurrency.ts';
import type { DecodedRecord } from '../domain/kafka-record.ts';
import { type MergedPayload, payloadIdentity } from '../domain/merge.ts';
import { type Log, logsAt } from '../logger.ts';
import type { BatchOnceDelivery, BatchOutcome, DeadLetter, OnceDelivery } from '../ports.ts';
import type { DeliveryOutcome } from './merge-batch.ts';

/** Payloads hashed between two turns of the event loop. */
const HASH_CHUNK = 1_000;

/** Whether the delivery port takes many payloads per call (ANALYTICS_DELIVERY=batch). */
export function isBatchDelivery(delivery: OnceDelivery): delivery is BatchOnceDelivery {
  return typeof (delivery as Partial<BatchOnceDelivery>).deliverMany === 'function';
}

/**
 * The merge's step 4 and 5 in batch mode: the payloads go to the port in one call (it claims,
 * which finds the duplicates, posts in batches, marks and releases in bulk); each rejected one
 * becomes a dead letter with the sink's reason, and each one another invocation held in progress
 * past the wait comes back held. Returns one outcome per payload, in order, as the single mode
 * does. The payload's identity is computed once, here, and is the event id, the record's key,
 * the log `hash` and the dead letter's `hash`.
 */
export async function deliverInBatches(
  payloads: { payload: MergedPayload; record: DecodedRecord }[],
  delivery: BatchOnceDelivery,
  log: Log,
): Promise<DeliveryOutcome[]> {
  const todo: Hashed[] = [];
  for (const [index, entry] of payloads.entries()) {
    // Hashing is CPU-bound: the event loop is let free between parts of it.
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator,ArithmeticOperator: when the loop yields changes timing only, never a result
    if (index > 0 && index % HASH_CHUNK === 0) await yieldToEventLoop();
    todo.push({ ...entry, index, ...payloadIdentity(entry.payload) });
  }
  const outcomes: DeliveryOutcome[] = payloads.map(() => 'duplicate');
  recordOutcomes(todo, await delivery.deliverMany(todo), outcomes, log);
  return outcomes;
}

type Hashed = {
  payload: MergedPayload;
  record: DecodedRecord;
  index: number;
  hash: string;
  canonical: string;
};

/** Each payload's outcome into `outcomes` (by its index in the batch), with its log line. */
function recordOutcomes(
  todo: Hashed[],
  delivered: BatchOutcome[],
  outcomes: DeliveryOutcome[],
  log: Log,
): void {
  const logPosted = logsAt(log, 'INFO');
  const logDuplicate = logsAt(log, 'DEBUG');
  for (const [i, { payload, record, hash, index }] of todo.entries()) {
    const outcome = delivered[i];
    if (outcome === undefined) throw new Error(`batch delivery gave no outcome for ${hash}`);
    // The per-payload lines of the common outcomes, skipped without a context when not written.
    if (outcome === 'posted' && !logPosted) {
      outcomes[index] = outcome;
      continue;
    }
    if (outcome === 'duplicate' && !logDuplicate) continue;
    const context = {
      id: payload.id,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      correlationId: record.headers['correlation-id'],
      hash,
    };
    if (outcome === 'posted') {
      log.info('payload delivered', context);
      outcomes[index] = outcome;
    } else if (outcome === 'duplicate') {
      log.debug('payload already delivered', context);
    } else if (outcome === 'held') {
      log.warn('payload held by another invocation; its record will be retried', context);
      outcomes[index] = { held: hash };
    } else {
      log.error('payload dead-lettered', { ...context, reason: outcome.rejected });
      outcomes[index] = deadLetterOf(payload, hash, outcome.rejected, outcome.attempts, context);
    }
  }
}

/** The dead letter of a payload Analytics refused after its retries, in either mode. */
export function deadLetterOf(
  payload: MergedPayload,
  hash: string,
  reason: string,
  attempts: number,
  { correlationId }: { correlationId?: string | undefined },
): DeadLetter {
  return {
    payload,
    hash,
    reason,
    attempts,
    failedAt: new Date().toISOString(),
    ...(correlationId !== undefined && { correlationId }),
  };
}
