import { decodeFailedMessages, type FailedMessage } from '../domain/failed-batch.ts';
import { DeliveryInProgressError } from '../errors.ts';
import { type MergeDeps, type MergeSummary, mergeBatch } from './merge-batch.ts';

/** What a re-drive did, over every failed topic it read. */
export type RedriveSummary = {
  /** Failed records read back and merged (one message of Lambda's holds a whole batch's). */
  records: number;
  /** Payloads delivered now. */
  posted: number;
  /** Payloads found already delivered (skipped, not sent again). */
  duplicates: number;
  deadLettered: number;
  quarantined: number;
  /** Ids still waiting for their other side after the re-drive. */
  waiting: number;
  /**
   * Messages left on the failed topics, because a chunk failed again (run the re-drive again).
   * A message is one record locally and one failed batch's envelope on AWS.
   */
  remaining: number;
};

export const emptyRedriveSummary = (): RedriveSummary => ({
  records: 0,
  posted: 0,
  duplicates: 0,
  deadLettered: 0,
  quarantined: 0,
  waiting: 0,
  remaining: 0,
});

/**
 * Re-drives records an event source mapping gave up on through the same merge as a live batch:
 * decoded back into records of their source topic, joined, checked against the idempotency
 * store (payloads already delivered are skipped) and delivered once. Throws like a live batch
 * (Redis, Kafka or the dead-letter sink failed) and when a payload is held by another
 * invocation: the caller then leaves these records where they are, so the next re-drive reads
 * them again.
 */
export async function redriveFailedRecords(
  messages: readonly FailedMessage[],
  sourceTopic: string,
  deps: MergeDeps,
): Promise<MergeSummary> {
  const records = messages.flatMap((message) => decodeFailedMessages(message, sourceTopic));
  const summary = await mergeBatch(records, deps);
  // A payload another invocation still holds: the chunk stays on the failed topic, and the
  // next re-drive reads it again (its delivered payloads are skipped then).
  const held = summary.retry[0];
  if (held) throw new DeliveryInProgressError(held.hash);
  return summary;
}

/** Adds one chunk's merge summary to the running re-drive summary. */
export function addToRedrive(total: RedriveSummary, summary: MergeSummary): void {
  total.records += summary.records;
  total.posted += summary.posted;
  total.duplicates += summary.duplicates;
  total.deadLettered += summary.deadLettered;
  total.quarantined += summary.quarantined;
  total.waiting += summary.waiting;
}
