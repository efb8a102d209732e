import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import type { Context } from 'aws-lambda';
import { mapWithConcurrency } from '../concurrency.ts';
import {
  type BatchEvent,
  type BatchFormat,
  eventJson,
  planRequests,
} from '../domain/analytics-batch.ts';
import type { MergedPayload } from '../domain/merge.ts';
import { AnalyticsDeliveryError, DeliveryInProgressError } from '../errors.ts';
import type { BatchAnalyticsSink, BatchOnceDelivery, BatchOutcome } from '../ports.ts';
import type { IoRedisCacheClient } from './idempotency-cache.ts';
import { DeliveryRecords } from './once-delivery.ts';

export type BatchedDeliveryOptions = {
  cache: Pick<IoRedisCacheClient, 'claimMany' | 'setMany' | 'getMany' | 'set' | 'del'>;
  analytics: BatchAnalyticsSink;
  format: BatchFormat;
  ttlSeconds: number;
  keyPrefix: string;
  /** Batch requests in flight at once. */
  concurrency: number;
  /** How long to wait for another invocation that holds some of the payloads in progress. */
  inProgressWaitMs?: number;
};

type Claimed = { index: number; key: string; hash: string };
type StoredRecord = { status?: string; expiration?: number; in_progress_expiration?: number };

/** How long the lock on an orphaned record lasts, as Powertools takes it (seconds). */
const ORPHAN_LOCK_SECONDS = 10;

/**
 * Delivers payloads in batch requests, exactly once per payload, over the same Redis records
 * Powertools idempotency writes in single mode (key `<prefix>delivered#<sha256 base64>`, value
 * `{"status","expiration","in_progress_expiration"}` then `{"status":"COMPLETED",…,"data"}`):
 *
 * 1. claim every payload in one pipeline of SET NX EX (an INPROGRESS record);
 * 2. read the records that were there: COMPLETED and unexpired is a duplicate; INPROGRESS and
 *    unexpired belongs to another invocation (wait for it, then report it 'held', for its record
 *    to be retried); anything else is an orphan, taken over under a lock, as Powertools does;
 * 3. POST the claimed payloads in requests within the count and byte limits, some at a time;
 * 4. after each answer, mark the accepted payloads COMPLETED (one pipeline) and release (DEL) the
 *    rejected ones, whose outcome carries the sink's reason for the dead-letter queue.
 *
 * A request that fails after its retries releases its payloads and reports them rejected.
 */
export class BatchedDelivery implements BatchOnceDelivery {
  #records: DeliveryRecords;
  #keys = new WeakMap<MergedPayload, string>();
  #remainingMs: () => number = () => 60_000;
  #waitMs: number;

  constructor(private readonly options: BatchedDeliveryOptions) {
    this.#waitMs = options.inProgressWaitMs ?? 5000;
    this.#records = new DeliveryRecords({
      client: options.cache as never,
      statusAttr: 'status',
      expiryAttr: 'expiration',
    });
    this.#records.configure({
      config: new IdempotencyConfig({
        expiresAfterSeconds: options.ttlSeconds,
        hashFunction: 'sha256',
      }),
      keyPrefix: `${options.keyPrefix}delivered`,
    });
  }

  /** Bounds how long an in-progress claim locks its payload: the invocation's remaining time. */
  registerInvocation(context: Pick<Context, 'getRemainingTimeInMillis'>): void {
    this.#remainingMs = () => context.getRemainingTimeInMillis();
  }

  #keyOf(payload: MergedPayload): string {
    let key = this.#keys.get(payload);
    if (key === undefined) {
      key = this.#records.keyOf(payload);
      this.#keys.set(payload, key);
    }
    return key;
  }

  async delivered(payloads: MergedPayload[]): Promise<boolean[]> {
    const now = Date.now();
    const records = await this.options.cache.getMany(payloads.map((p) => this.#keyOf(p)));
    return records.map((text) => isCompleted(parseRecord(text), now));
  }

  async deliver(payload: MergedPayload, hash: string): Promise<'posted' | 'duplicate'> {
    const [outcome] = await this.deliverMany([{ payload, hash }]);
    if (outcome === 'posted' || outcome === 'duplicate') return outcome;
    if (outcome === 'held') throw new DeliveryInProgressError(hash);
    const rejected = outcome as Exclude<BatchOutcome, string>;
    throw new AnalyticsDeliveryError(rejected.status, rejected.attempts, rejected.rejected);
  }

  async deliverMany(items: { payload: MergedPayload; hash: string }[]): Promise<BatchOutcome[]> {
    const outcomes = new Array<BatchOutcome>(items.length);
    const claimed = await this.#claim(items, outcomes);
    const events: BatchEvent<Claimed>[] = claimed.map((claim) => ({
      item: claim,
      id: claim.hash,
      json: eventJson(
        (items[claim.index] as { payload: MergedPayload }).payload,
        claim.hash,
        this.options.format,
      ),
    }));
    const { requests, oversized } = planRequests(events, this.options.format);
    for (const event of oversized) {
      outcomes[event.item.index] = {
        rejected: `event is ${Buffer.byteLength(event.json)} bytes, over the ${this.options.format.maxBytes}-byte request limit`,
        attempts: 0,
      };
    }
    await this.options.cache.del(oversized.map((event) => event.item.key));
    await mapWithConcurrency(requests, this.options.concurrency, (request) =>
      this.#send(request, outcomes),
    );
    return outcomes;
  }

  /**
   * Claims what it can; fills `outcomes` for duplicates; waits out other invocations' claims,
   * and marks 'held' those still in progress elsewhere when the wait is over.
   */
  async #claim(
    items: { payload: MergedPayload; hash: string }[],
    outcomes: BatchOutcome[],
  ): Promise<Claimed[]> {
    const claimed: Claimed[] = [];
    let pending: Claimed[] = items.map(({ payload, hash }, index) => ({
      index,
      hash,
      key: this.#keyOf(payload),
    }));
    const deadline = Date.now() + this.#waitMs;
    for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
      const value = this.#inProgressRecord();
      const won = await this.options.cache.claimMany(
        pending.map(({ key }) => ({ key, value })),
        this.options.ttlSeconds,
      );
      const taken = pending.filter((_, i) => won[i]);
      claimed.push(...taken);
      const lost = pending.filter((_, i) => !won[i]);
      const now = Date.now();
      const existing = await this.options.cache.getMany(lost.map(({ key }) => key));
      const busy: Claimed[] = [];
      for (const [i, claim] of lost.entries()) {
        const record = parseRecord(existing[i] ?? null);
        if (isCompleted(record, now)) outcomes[claim.index] = 'duplicate';
        else if (record?.status === 'INPROGRESS' && (record.in_progress_expiration ?? 0) > now) {
          busy.push(claim);
        } else if (await this.#takeOrphan(claim.key, value)) claimed.push(claim);
        else busy.push(claim);
      }
      // Past the wait, what is still held elsewhere is left to a retry of its record; the rest
      // goes on.
      if (Date.now() + pause > deadline) {
        for (const claim of busy) outcomes[claim.index] = 'held';
        busy.length = 0;
      }
      if (busy.length === 0) return claimed.sort((a, b) => a.index - b.index);
      await new Promise((resolve) => setTimeout(resolve, pause));
      pending = busy;
    }
  }

  /** An expired or unreadable record: take it over under a short lock, as Powertools does. */
  async #takeOrphan(key: string, value: string): Promise<boolean> {
    const lock = await this.options.cache.set(`${key}:lock`, 'true', {
      EX: ORPHAN_LOCK_SECONDS,
      NX: true,
    });
    if (lock === null) return false;
    await this.options.cache.set(key, value, { EX: this.options.ttlSeconds });
    return true;
  }

  async #send(request: BatchEvent<Claimed>[], outcomes: BatchOutcome[]): Promise<void> {
    let answer: Awaited<ReturnType<BatchAnalyticsSink['postBatch']>>;
    try {
      answer = await this.options.analytics.postBatch(request);
    } catch (error) {
      await this.options.cache.del(request.map((event) => event.item.key));
      if (!(error instanceof AnalyticsDeliveryError)) throw error;
      for (const event of request) {
        outcomes[event.item.index] = {
          rejected: error.message,
          attempts: error.attempts,
          status: error.status,
        };
      }
      return;
    }
    const done: { key: string; value: string }[] = [];
    const released: string[] = [];
    const expiration = Math.round(Date.now() / 1000 + this.options.ttlSeconds);
    const postedAt = new Date().toISOString();
    for (const [i, event] of request.entries()) {
      const verdict = answer.verdicts[i] ?? { accepted: false, reason: 'no verdict for the event' };
      if (verdict.accepted) {
        outcomes[event.item.index] = 'posted';
        const data = { hash: event.id, attempts: answer.attempts, postedAt };
        done.push({
          key: event.item.key,
          value: JSON.stringify({ status: 'COMPLETED', expiration, data }),
        });
      } else {
        outcomes[event.item.index] = {
          rejected: `rejected by Analytics: ${verdict.reason}`,
          attempts: answer.attempts,
          status: 'status' in verdict ? verdict.status : undefined,
        };
        released.push(event.item.key);
      }
    }
    await Promise.all([
      this.options.cache.setMany(done, this.options.ttlSeconds),
      this.options.cache.del(released),
    ]);
  }

  #inProgressRecord(): string {
    const now = Date.now();
    return JSON.stringify({
      status: 'INPROGRESS',
      expiration: Math.round(now / 1000 + this.options.ttlSeconds),
      in_progress_expiration: now + this.#remainingMs(),
    });
  }
}

function parseRecord(text: string | null): StoredRecord | undefined {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as StoredRecord;
  } catch {
    return undefined;
  }
}

function isCompleted(record: StoredRecord | undefined, nowMs: number): boolean {
  return (
    record?.status === 'COMPLETED' &&
    typeof record.expiration === 'number' &&
    record.expiration > nowMs / 1000
  );
}
