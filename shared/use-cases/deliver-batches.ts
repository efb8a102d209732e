import { yieldToEventLoop } from '../concurrency.ts';
import type { DecodedRecord } from '../domain/kafka-record.ts';
import { type MergedPayload, payloadIdentity } from '../domain/merge.ts';
import { type Log, logsAt } from '../logger.ts';
import type { BatchOutcome, DeadLetter, OnceDelivery } from '../ports.ts';

/** What became of one payload: delivered now, delivered before, held elsewhere, or refused. */
export type DeliveryOutcome = 'posted' | 'duplicate' | { held: string } | DeadLetter;

/** Payloads hashed between two turns of the event loop. */
const HASH_CHUNK = 1_000;

/**
 * The merge's steps 4 and 5, in either delivery mode: the payloads go to the port in one call
 * (single mode: a pre-check, then one POST per payload, a bounded number at a time; batch mode:
 * claims, which find the duplicates, batch requests, marks and releases in bulk). Each payload
 * Analytics refused after its retries (a 429 or 5xx that outlasted them, a 4xx, a rejected event)
 * becomes a dead letter with the reason; each one another invocation held in progress past the
 * wait comes back held. Returns one outcome per payload, in order. The payload's identity is
 * computed once, here, and is the Idempotency-Key or event id, the record's key, the log `hash`
 * and the dead letter's `hash`.
 */
export async function deliverPayloads(
  payloads: { payload: MergedPayload; record: DecodedRecord }[],
  delivery: OnceDelivery,
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
      // A payload of the {customer, inventory} shape has no id field: its record's key names it.
      id: payload.id ?? record.key ?? undefined,
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
function deadLetterOf(
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
