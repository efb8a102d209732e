import { mapWithConcurrency, yieldToEventLoop } from '../concurrency.ts';
import type { DecodedRecord } from '../domain/kafka-record.ts';
import {
  buildPayload,
  type JoinState,
  lastAppearances,
  type MergedPayload,
  payloadHash,
  type RecordOrigin,
  recordVersion,
} from '../domain/merge.ts';
import { checkRecord, NOT_JSON, type RecordCheck } from '../domain/records.ts';
import { type Log, logsAt } from '../logger.ts';
import type {
  DeadLetter,
  DeadLetterSink,
  JoinStore,
  JoinUpsert,
  OnceDelivery,
  QuarantineEntry,
  QuarantineSink,
} from '../ports.ts';
import type { JoinDefinition } from '../sources/join.ts';
import type { SourceDefinition } from '../sources/registry.ts';
import { type DeliveryOutcome, deliverPayloads } from './deliver-batches.ts';

export type MergeDeps = {
  joinStore: JoinStore;
  /** Either delivery mode: its adapter bounds the POSTs in flight (ANALYTICS_CONCURRENCY). */
  delivery: OnceDelivery;
  deadLetter: DeadLetterSink;
  quarantine: QuarantineSink;
  log: Log;
  /** The source whose records a topic carries; undefined for a topic the merge does not read. */
  sourceForTopic: (topic: string) => SourceDefinition | undefined;
  /** The join declaration: which side each source fills, and the payload's shape. */
  join: JoinDefinition;
  /** Largest record value, in bytes, joined; larger ones are quarantined. */
  maxRecordBytes: number;
};

export type MergeSummary = {
  records: number;
  quarantined: number;
  /** Ids of the batch with a payload to deliver (every required side known, or emitted). */
  merged: number;
  /** Ids still waiting for a required side. */
  waiting: number;
  posted: number;
  duplicates: number;
  deadLettered: number;
  /** Payloads another invocation held in progress past the wait: not finished here. */
  held: number;
  /**
   * The records whose payload was held, to be retried (the handler reports them as batch item
   * failures; the event source mapping retries each partition from its lowest one).
   */
  retry: HeldRecord[];
  durationMs: number;
};

/** Where a held payload's record is, and the payload's hash (for the log lines). */
export type HeldRecord = { topic: string; partition: number; offset: string; hash: string };

type Accepted = { upsert: JoinUpsert; record: DecodedRecord };

/**
 * Records (or payloads) handled between two turns of the event loop in the CPU-bound steps. A
 * 10,000-record batch validated in one go holds the loop for about a second; in chunks, the
 * answers to POSTs already in flight (this invocation's, or another one's in the same process)
 * are read on time instead of being taken for timeouts.
 */
const CPU_CHUNK = 250;

/**
 * Records per join upsert call. The calls of a batch go out together; each part is built and
 * delivered once its states are back, so delivery overlaps Redis applying the later parts. Two
 * parts are delivered at a time (one pre-checked or claimed while the other waits on Analytics);
 * their requests share ANALYTICS_CONCURRENCY, which the delivery adapter bounds across calls.
 */
const JOIN_PART = 1_000;
const PARTS_IN_FLIGHT = 2;

/**
 * Merges one MSK batch.
 *
 * 1. Check each record (JSON, its topic's source rules); quarantine the bad ones first. A good
 *    record is joined whole, every field as the source sent it.
 * 2. Upsert every valid record into the join state, in batch order, atomically per record: in
 *    parts of 1,000, all sent at once; steps 3 and 4 run on each part as its states come back.
 * 3. Build a payload, shaped by the join, for each id with every required side (or already
 *    emitted by the missing-side policy), from the state after the id's last upsert in the
 *    batch: an id repeated in a batch yields one payload, the latest.
 * 4. Deliver each payload once, keyed by its identity (`payloadHash`), through the delivery
 *    port, one call per part (`deliverPayloads`: the same path in both modes; in single mode a
 *    pre-check skips the payloads already delivered and each other one is POSTed alone, a
 *    bounded number at a time; in batch mode a part's payloads are claimed, POSTed in batch
 *    requests and marked in bulk). When a part fails, the part in flight finishes before the
 *    batch fails.
 * 5. Dead-letter what Analytics refused after its retries (a 429 or 5xx past them included),
 *    with the reason.
 * 6. Hand back, in `retry`, the records whose payload another invocation held in progress for
 *    longer than this one could wait (a transient state): everything else is finished.
 *
 * Throws (so the batch is retried and offsets stay put) when Redis, Kafka or the dead-letter
 * sink fail; a bad record never throws.
 */
export async function mergeBatch(records: DecodedRecord[], deps: MergeDeps): Promise<MergeSummary> {
  const started = Date.now();
  const { accepted, rejected } = await validateBatch(records, deps);
  if (rejected.length > 0) await deps.quarantine.quarantine(rejected);

  const last = lastAppearances(accepted.map((item) => item.upsert.id));
  // Every part's upsert goes out at once, in batch order (the store applies calls in the order
  // they are made); each part is built and delivered as soon as its states are back, while
  // Redis applies the parts after it.
  const starts = accepted.flatMap((_, index) => (index % JOIN_PART === 0 ? [index] : []));
  const upserted = starts.map((from) =>
    deps.joinStore.upsertMany(accepted.slice(from, from + JOIN_PART).map((item) => item.upsert)),
  );
  // Each is awaited in turn below; a failure meanwhile is not an unhandled rejection.
  for (const part of upserted) part.catch(() => undefined);
  const parts = await mapWithConcurrency(starts, PARTS_IN_FLIGHT, async (from, part) => {
    // Built only once every part before it is applied too: if the connection dropped in an
    // earlier part (ioredis fails what was left of it, but sends a later part's untouched
    // pipeline again after reconnecting), a later part's states did not follow batch order.
    const states = (await Promise.all(upserted.slice(0, part + 1)))[part] as JoinState[];
    const expected = Math.min(JOIN_PART, accepted.length - from);
    if (states.length !== expected) {
      throw new Error(`join store answered ${states.length} states for ${expected} upserts`);
    }
    const payloads: { payload: MergedPayload; record: DecodedRecord }[] = [];
    const origins: JoinState['origins'][] = [];
    for (const [offset, state] of states.entries()) {
      // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator,ArithmeticOperator: when the loop yields changes timing only, never a result
      if (offset > 0 && offset % CPU_CHUNK === 0) await yieldToEventLoop();
      const { upsert, record } = accepted[from + offset] as Accepted;
      if (last.get(upsert.id) !== from + offset) continue;
      const payload = buildPayload(deps.join, upsert.id, state);
      if (payload) {
        payloads.push({ payload, record });
        origins.push(state.origins);
      }
    }
    const outcomes = await deliverPayloads(payloads, deps.delivery, deps.log);
    logLineage(payloads, origins, outcomes, deps.log);
    return { payloads, outcomes };
  });
  const payloads = parts.flatMap((part) => part.payloads);
  const outcomes = parts.flatMap((part) => part.outcomes);
  const letters = outcomes.filter(
    (outcome): outcome is DeadLetter => typeof outcome === 'object' && 'reason' in outcome,
  );
  if (letters.length > 0) await deps.deadLetter.send(letters);
  const retry: HeldRecord[] = [];
  for (const [index, outcome] of outcomes.entries()) {
    const record = payloads[index]?.record;
    if (typeof outcome !== 'object' || !('held' in outcome) || !record) continue;
    retry.push({
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      hash: outcome.held,
    });
  }

  return {
    records: records.length,
    quarantined: rejected.length,
    merged: payloads.length,
    waiting: last.size - payloads.length,
    posted: outcomes.filter((outcome) => outcome === 'posted').length,
    duplicates: outcomes.filter((outcome) => outcome === 'duplicate').length,
    deadLettered: letters.length,
    held: retry.length,
    retry,
    durationMs: Date.now() - started,
  };
}

async function validateBatch(records: DecodedRecord[], deps: MergeDeps) {
  const accepted: Accepted[] = [];
  const rejected: QuarantineEntry[] = [];
  const logJoined = logsAt(deps.log, 'INFO');
  for (const [index, record] of records.entries()) {
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator,ArithmeticOperator: when the loop yields changes timing only, never a result
    if (index > 0 && index % CPU_CHUNK === 0) await yieldToEventLoop();
    const where = { topic: record.topic, partition: record.partition, offset: record.offset };
    const reject = (reason: string, id?: string) => {
      rejected.push({
        stage: 'merge',
        reason,
        raw: record.value ?? '',
        ...where,
        ...(id !== undefined && { id }),
      });
      deps.log.warn('record quarantined', { ...where, id, reason });
    };
    const source = deps.sourceForTopic(record.topic);
    const side = source && deps.join.sideOf[source.name];
    if (!source || side === undefined) {
      reject(
        source
          ? `source ${source.name} fills no side of the join`
          : `topic ${record.topic} is not a source topic`,
      );
      continue;
    }
    if (record.value === null) {
      reject('record has no value');
      continue;
    }
    const bytes = Buffer.byteLength(record.value);
    if (bytes > deps.maxRecordBytes) {
      reject(
        `record is ${bytes} bytes, over the ${deps.maxRecordBytes}-byte limit`,
        record.key ?? undefined,
      );
      continue;
    }
    const checked = record.checked ?? parseAndCheck(source, record.value, record.key);
    if (!checked.ok) {
      reject(checked.reason, checked.id);
      continue;
    }
    const { id } = checked;
    if (record.key !== null && record.key !== id) {
      reject(`key "${record.key}" does not match id "${id}"`, id);
      continue;
    }
    // Stryker disable next-line StringLiteral: any fallback text parses as NaN, as '' does
    const fetchedAt = Date.parse(record.headers['fetched-at'] ?? '');
    accepted.push({
      record,
      upsert: {
        id,
        side,
        record: checked.record,
        version: recordVersion(
          checked.change,
          Number.isNaN(fetchedAt) ? record.timestamp : fetchedAt,
        ),
        origin: originOf(record),
      },
    });
    if (logJoined) {
      deps.log.info('record joined', {
        ...where,
        id,
        side,
        correlationId: record.headers['correlation-id'],
      });
    }
  }
  return { accepted, rejected };
}

/** Where a record came from: kept with its side in the join state, for the payload's lineage. */
function originOf(record: DecodedRecord): RecordOrigin {
  const correlationId = record.headers['correlation-id'];
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    ...(correlationId !== undefined && correlationId !== '' && { correlationId }),
  };
}

/**
 * One `payload lineage` line per payload delivered or dead-lettered here, keyed by its identity
 * (`hash`, the Idempotency-Key): the origin of every side it was built from, each side's record
 * perhaps from another batch or fetch run. Duplicates and held payloads get none: the invocation
 * that delivers them writes it.
 */
function logLineage(
  payloads: { payload: MergedPayload }[],
  origins: JoinState['origins'][],
  outcomes: DeliveryOutcome[],
  log: Log,
): void {
  if (!logsAt(log, 'INFO')) return;
  for (const [index, outcome] of outcomes.entries()) {
    const letter = typeof outcome === 'object' && 'reason' in outcome ? outcome : undefined;
    if (outcome !== 'posted' && !letter) continue;
    const { payload } = payloads[index] as { payload: MergedPayload };
    log.info('payload lineage', {
      id: payload.id,
      hash: letter?.hash ?? payloadHash(payload),
      outcome: letter ? 'dead-lettered' : 'posted',
      sides: origins[index] ?? {},
    });
  }
}

/** A value the edge did not read (the redrive's records): parsed and checked here. */
function parseAndCheck(source: SourceDefinition, value: string, key: string | null): RecordCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return { ok: false, reason: NOT_JSON, ...(key !== null && { id: key }) };
  }
  return checkRecord(source, parsed);
}
