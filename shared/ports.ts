import type { JoinState, MergedPayload } from './domain/merge.ts';
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
  readPage(page: number, pageSize: number): Promise<SourcePage>;
  /** Retries done so far, for the run summary. */
  readonly retries: number;
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

/** One side of a record to upsert into the join state. */
export type JoinUpsert = { id: string; side: Side; record: object; version: number };

/** The join state of ids in Redis (or any store that can apply an upsert atomically). */
export interface JoinStore {
  /**
   * Applies the upserts in order, each atomically (the newer version of a side wins), and returns
   * the join state of each id right after its upsert, in the same order.
   */
  upsertMany(upserts: JoinUpsert[]): Promise<JoinState[]>;
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

/** Delivers a payload at most once per hash within the idempotency window. */
export interface OnceDelivery {
  /** 'posted' when this call delivered it; 'duplicate' when it was delivered before. */
  deliver(payload: MergedPayload, hash: string): Promise<'posted' | 'duplicate'>;
  /** For each payload, whether it is known to be delivered already (a cheap batch pre-check). */
  delivered(payloads: MergedPayload[]): Promise<boolean[]>;
}
