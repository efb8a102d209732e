import { FAILED_HEADERS, failedTopicOf } from '../domain/failed-batch.ts';
import type { DecodedRecord } from '../domain/kafka-record.ts';
import { PipelineError } from '../errors.ts';
import type { OutboundMessage, Publisher } from '../ports.ts';

/**
 * A batch's failed attempts under an on-demand event source mapping, which has no retry limit,
 * no partial batch response and no on-failure destination of its own (docs/design.md, "Mappings
 * without provisioned pollers"). Counts in Redis when it answers, in memory otherwise.
 */
export interface AttemptCounter {
  /** Adds one failed attempt of the batch and returns how many it has had. */
  fail(batchId: string): Promise<number>;
  /** Forgets the batch (it succeeded or was written to its failed topic). */
  forget(batchId: string): Promise<void>;
}

/** Some records' payloads are held by another invocation: the batch must be retried whole. */
export class HeldRecordsError extends PipelineError {
  override readonly name = 'HeldRecordsError';
  constructor(readonly held: number) {
    super(`${held} record(s) held by another invocation; the batch will be retried`);
  }
}

/** The failed batch could not be written to its failed topic: the batch will be retried. */
export class FailedBatchWriteError extends PipelineError {
  override readonly name = 'FailedBatchWriteError';
  constructor(topics: string[], options: { cause: unknown }) {
    super(`could not write the failed batch to ${topics.join(', ')}`, options);
  }
}

/**
 * A batch's identity across retries: topic, partition and first offset of each partition in
 * the event (a retry of the same batch starts at the same offsets).
 */
export function batchIdentityOf(records: readonly DecodedRecord[]): string {
  const first = new Map<string, bigint>();
  for (const record of records) {
    const key = `${record.topic}-${record.partition}`;
    const offset = BigInt(record.offset);
    const seen = first.get(key);
    if (seen === undefined || offset < seen) first.set(key, offset);
  }
  return [...first.entries()]
    .map(([key, offset]) => `${key}@${offset}`)
    .sort()
    .join(',');
}

export type OnDemandDeps = {
  attempts: AttemptCounter;
  /** Acknowledges with acks=all before it resolves. */
  publisher: Publisher;
  /** Retries after the first attempt before giving up (MERGE_RETRY_ATTEMPTS). */
  retryAttempts: number;
  /** The failed topic of a record's source topic (default `failed_<topic>`; a run prefix stays first). */
  failedTopicFor?: (sourceTopic: string) => string;
};

export type OnDemandOutcome =
  | { outcome: 'done' }
  | { outcome: 'gave-up'; failedRecords: number; reason: string };

/**
 * Runs one attempt of a batch under an on-demand mapping. Success (nothing held, nothing
 * thrown) resolves `done`. A failure throws so the mapping retries the batch, until the batch
 * has failed `retryAttempts + 1` times: then its records are written to `failed_<topic>`
 * (with where they came from and why) and `gave-up` resolves. If that write fails, throws
 * FailedBatchWriteError: the batch is retried, nothing is lost.
 */
export async function settleOnDemand(
  records: readonly DecodedRecord[],
  attempt: () => Promise<{ retry: readonly unknown[] }>,
  deps: OnDemandDeps,
): Promise<OnDemandOutcome> {
  const batchId = batchIdentityOf(records);
  let failure: Error;
  try {
    const { retry } = await attempt();
    if (retry.length === 0) {
      await deps.attempts.forget(batchId);
      return { outcome: 'done' };
    }
    failure = new HeldRecordsError(retry.length);
  } catch (error) {
    failure = error as Error;
  }
  const failed = await deps.attempts.fail(batchId);
  if (failed <= deps.retryAttempts || records.length === 0) throw failure;
  const reason = failure.message ?? String(failure);
  await writeFailedBatch(records, failed, reason, deps);
  await deps.attempts.forget(batchId);
  return { outcome: 'gave-up', failedRecords: records.length, reason };
}

async function writeFailedBatch(
  records: readonly DecodedRecord[],
  attempts: number,
  reason: string,
  deps: OnDemandDeps,
): Promise<void> {
  const byTopic = new Map<string, OutboundMessage[]>();
  for (const record of records) {
    const topic = (deps.failedTopicFor ?? failedTopicOf)(record.topic);
    const messages = byTopic.get(topic) ?? [];
    messages.push({
      key: record.key,
      value: record.value ?? '',
      headers: {
        ...record.headers,
        [FAILED_HEADERS.topic]: record.topic,
        [FAILED_HEADERS.partition]: String(record.partition),
        [FAILED_HEADERS.offset]: record.offset,
        [FAILED_HEADERS.attempts]: String(attempts),
        [FAILED_HEADERS.reason]: reason,
      },
    });
    byTopic.set(topic, messages);
  }
  try {
    for (const [topic, messages] of byTopic) await deps.publisher.publish(topic, messages);
  } catch (cause) {
    throw new FailedBatchWriteError([...byTopic.keys()], { cause });
  }
}
