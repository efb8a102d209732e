import type { JoinState, MergedPayload, RecordOrigin } from './domain/merge.ts';
import type { Side } from './domain/records.ts';
import type { SourcePage } from './sources/page.ts';

/** A message for a Kafka topic. Header values are strings. */
export type OutboundMessage = {
  key: string | null;
  value: string;
  headers?: Record<string, string>;
};

/** Publishes messages to a topic; resolves once every message is acknowledged (acks=all). */
export interface Publisher {
  publish(topic: string, messages: OutboundMessage[]): Promise<void>;
}

/** Reads one page of a source listing, retrying transient failures itself. */
export interface SourcePageReader {
  /** Reads the page at this URL (as built by the source's pagination) and finds the next one. */
  readPage(url: string): Promise<SourcePage>;
  /** The URL without any secret in it, safe to save and to log. */
  redact(url: string): string;
  /** Retries done so far, for the run summary. */
  readonly retries: number;
}

/** Where an unfinished fetch run stands: enough for the next invocation to continue it. */
export type SyncCheckpoint = {
  runId: string;
  mode: 'full' | 'incremental';
  /** The change value the run asked from, as sent to the source. */
  since?: string;
  /** The URL of the first page not yet published (secrets removed). */
  next: string;
  pages: number;
  published: number;
  /** The highest change value published so far (ms for timestamps), or null. */
  maxChange: number | null;
  /** The newest sync token the run's pages carried so far (a source with `syncToken`). */
  syncToken?: string;
  startedAt: string;
};

/**
 * Durable per-source sync state: the cursor, the checkpoint of an unfinished run, and the lease
 * that keeps two runs of one source apart. Every call resolves once the change is stored.
 */
export interface SyncStateStore {
  /** Takes the lease for `ttlMs` unless another owner holds it; true when taken. */
  acquireLease(source: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease; false when this owner no longer holds it. */
  renewLease(source: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(source: string, owner: string): Promise<void>;
  /**
   * Where the next run starts: the highest change value of the last complete run (or a pending
   * backfill's start, when lower), or null before the first run (or for a full backfill).
   */
  readCursor(source: string): Promise<number | null>;
  readCheckpoint(source: string): Promise<SyncCheckpoint | null>;
  saveCheckpoint(source: string, checkpoint: SyncCheckpoint): Promise<void>;
  /** The sync token of the last complete run that got one, or null. */
  readSyncToken(source: string): Promise<string | null>;
  /**
   * Ends a run: moves the cursor forward (unless null; never back) and the sync token (when
   * given), and deletes the checkpoint and any pending backfill, atomically.
   */
  completeRun(source: string, cursor: number | null, syncToken?: string): Promise<void>;
  /** Forgets an unfinished run (a full re-sync asked for while one was paused). */
  clearCheckpoint(source: string): Promise<void>;
}

/** A source's sync state as an operator sees it (`npm run state -- show`). */
export type SyncStateView = {
  cursor: number | null;
  syncToken: string | null;
  checkpoint: SyncCheckpoint | null;
  /** The run holding the lease, and how long until it lapses; null when no run holds it. */
  lease: { owner: string; expiresInMs: number } | null;
  /** A backfill the next run does: from this change value, or (null) everything. */
  backfill: { from: number | null } | null;
};

/**
 * What an operator rewinds a source to: nothing (the next run reads everything), a cursor, a
 * sync token, or a backfill (the next run reads from `from`, or everything, without moving the
 * cursor back: it ends at least where it was).
 */
export type SyncRewind =
  | { kind: 'nothing' }
  | { kind: 'cursor'; cursor: number }
  | { kind: 'token'; syncToken: string }
  | { kind: 'backfill'; from: number | null };

/**
 * The operator's side of the sync state. A rewind deletes the checkpoint of an unfinished run
 * and never touches what was delivered (the idempotency records keep a re-read payload from
 * going out twice).
 */
export interface SyncStateAdmin {
  inspect(source: string): Promise<SyncStateView>;
  /** Applies the rewind atomically; false (and nothing changed) while a run holds the lease. */
  rewind(source: string, to: SyncRewind): Promise<boolean>;
}

/** An input that could not be processed, kept with the reason and where it came from. */
export type QuarantineEntry = {
  stage: 'fetch' | 'merge';
  reason: string;
  /** The raw input as text (truncated past the quarantine size limit, with a note). */
  raw: string;
  id?: string;
  source?: string;
  topic?: string;
  partition?: number;
  offset?: string;
  correlationId?: string;
};

/** Keeps invalid inputs with their reason. Resolves once they are durably stored. */
export interface QuarantineSink {
  quarantine(entries: QuarantineEntry[]): Promise<void>;
}

/**
 * One side of a record to upsert into the join state, with where the record came from (kept with
 * the side, so a payload names the origin of every side it was built from).
 */
export type JoinUpsert = {
  id: string;
  side: Side;
  record: object;
  version: number;
  origin?: RecordOrigin;
};

/** The join state of ids in Redis (or any store that can apply an upsert atomically). */
export interface JoinStore {
  /**
   * Applies the upserts in order, each atomically (the newer version of a side wins), and returns
   * the join state of each id right after its upsert, in the same order.
   */
  upsertMany(upserts: JoinUpsert[]): Promise<JoinState[]>;
}

/** A pending id: one missing a required side, with the time its first side arrived. */
export type PendingEntry = { id: string; firstSeenMs: number };

/** What the sweeper finds when it looks at a pending id. */
export type PendingLook =
  /** The join state expired or was dropped; the id left the index. */
  | { status: 'gone' }
  /** Every required side is present now (the merge delivers it); the id left the index. */
  | { status: 'complete' }
  | { status: 'pending'; state: JoinState; firstSeenMs: number };

/** A pending id as the listing shows it. */
export type PendingListing = PendingEntry & { sides: string[]; emitted: boolean };

/**
 * The durable index of ids still missing a required side, kept exact by the join store's upsert.
 * Every call is atomic per id, so a sweeper and merges may race on one id.
 */
export interface PendingIndex {
  /** Ids the policy has not acted on, first seen at or before `cutoffMs`, oldest first. */
  due(cutoffMs: number, limit: number): Promise<PendingEntry[]>;
  look(id: string): Promise<PendingLook>;
  /** Marks an emitted id: it stays pending (and counted) but is not due again. */
  markEmitted(id: string): Promise<void>;
  /** Forgets the id's join state if it is still incomplete and first seen at or before `cutoffMs`. */
  drop(id: string, cutoffMs: number): Promise<boolean>;
  /**
   * Removes ids whose join state expired or completed from the index, looking at up to `limit`
   * ids per call (in turn, across calls); returns how many it removed.
   */
  prune(limit: number): Promise<number>;
  /** How many ids are pending, and when the oldest was first seen (null when none). */
  stats(): Promise<{ pending: number; oldestFirstSeenMs: number | null }>;
  /** The oldest pending ids with the sides they hold. */
  list(limit: number): Promise<PendingListing[]>;
}

/** A payload Analytics refused after every retry, kept for replay. */
export type DeadLetter = {
  payload: MergedPayload;
  hash: string;
  reason: string;
  attempts: number;
  failedAt: string;
  correlationId?: string;
};

/** Keeps payloads that could not be delivered. Resolves once they are durably stored. */
export interface DeadLetterSink {
  send(letters: DeadLetter[]): Promise<void>;
}

/** POSTs one payload to Analytics; throws AnalyticsDeliveryError after the retries. */
export interface AnalyticsSink {
  post(payload: MergedPayload, hash: string): Promise<{ attempts: number }>;
}

/** One payload to deliver: its identity (`payloadHash`) and, when the caller has it, its JSON. */
export type DeliveryItem = {
  payload: MergedPayload;
  hash: string;
  /** The payload's canonical JSON, when the caller has it (it is not serialised again). */
  canonical?: string;
};

/** What became of one payload given to the delivery port. */
export type BatchOutcome =
  | 'posted'
  | 'duplicate'
  /** Another invocation held it in progress for longer than this one could wait. */
  | 'held'
  | { rejected: string; attempts: number; status?: number | undefined };

/**
 * The delivery port: payloads delivered exactly once per identity within the idempotency window.
 * Both delivery modes are adapters of it: one payload per request (OneAtATimeDelivery over an
 * IdempotentDelivery) or many (BatchedDelivery).
 */
export interface OnceDelivery {
  /**
   * One outcome per item, in order. A payload Analytics refused after its retries comes back
   * rejected with the reason, one held in progress elsewhere past the wait comes back 'held';
   * throws (nothing known delivered beyond what was marked) when Redis fails.
   */
  deliverMany(items: DeliveryItem[]): Promise<BatchOutcome[]>;
  /**
   * One payload: 'posted' when this call delivered it; 'duplicate' when it was delivered before.
   * Throws AnalyticsDeliveryError when Analytics refused it, DeliveryInProgressError when another
   * invocation holds it in progress past the wait.
   */
  deliver(payload: MergedPayload, hash: string): Promise<'posted' | 'duplicate'>;
}

/** Delivers one payload at a time, at most once per hash: what single mode is built on. */
export interface PayloadDelivery {
  /** As OnceDelivery's `deliver`. */
  deliver(payload: MergedPayload, hash: string): Promise<'posted' | 'duplicate'>;
  /**
   * For each payload identity (`payloadHash`), whether it is known to be delivered already (a
   * cheap batch pre-check).
   */
  delivered(hashes: string[]): Promise<boolean[]>;
}

/** One event of a batch request: its id (the payload hash) and its JSON, id field included. */
export type BatchRequestEvent = { id: string; json: string };

/** POSTs batches of events to Analytics (a sink's batch API). */
export interface BatchAnalyticsSink {
  /**
   * Sends the events (one request, or more when the sink answers 413) and returns the sink's
   * verdict on each, in order. Throws AnalyticsDeliveryError when the request failed after its
   * retries (429, 5xx, network): then no event is known to be delivered.
   */
  postBatch(events: BatchRequestEvent[]): Promise<{
    verdicts: ({ accepted: true } | { accepted: false; reason: string; status?: number })[];
    attempts: number;
  }>;
}
