import type { CacheClient } from '@aws-lambda-powertools/idempotency/cache/types';
import type { Context } from 'aws-lambda';
import { Limiter, mapWithConcurrency } from '../concurrency.ts';
import {
  type BatchEvent,
  type BatchFormat,
  eventJson,
  planRequests,
} from '../domain/analytics-batch.ts';
import type { MergedPayload } from '../domain/merge.ts';
import { AnalyticsDeliveryError, DeliveryInProgressError } from '../errors.ts';
import type { BatchAnalyticsSink, BatchOutcome, DeliveryItem, OnceDelivery } from '../ports.ts';
import { type ClaimResult, DeliveryRecords } from './delivery-records.ts';

export type BatchedDeliveryOptions = {
  /** Where the idempotency records live: Redis through IoRedisCacheClient in production. */
  cache: CacheClient;
  analytics: BatchAnalyticsSink;
  format: BatchFormat;
  ttlSeconds: number;
  keyPrefix: string;
  /** Batch requests in flight at once, across the calls in flight. */
  concurrency: number;
  /** How long to wait for another invocation that holds some of the payloads in progress. */
  inProgressWaitMs?: number;
};

type Claimed = { index: number; hash: string };

/**
 * Delivers payloads in batch requests, exactly once per payload, over the same records as single
 * mode (DeliveryRecords, keyed by the payload's identity through Powertools' key derivation):
 *
 * 1. claim every payload (an INPROGRESS record, SET NX); the claims are issued together and go
 *    out as a few pipelines. A COMPLETED, unexpired record is a duplicate; one in progress
 *    elsewhere is waited for, then reported 'held' (for its record to be retried); an orphan is
 *    taken over under a lock;
 * 2. POST the claimed payloads in requests within the count and byte limits, some at a time;
 * 3. after each answer, mark the accepted payloads COMPLETED and release (DEL) the rejected
 *    ones, whose outcome carries the sink's reason for the dead-letter queue.
 *
 * A request that fails after its retries releases its payloads and reports them rejected. No
 * pre-check is needed: the claim itself finds the duplicates.
 */
export class BatchedDelivery implements OnceDelivery {
  #records: DeliveryRecords;
  #remainingMs: () => number = () => 60_000;
  #waitMs: number;
  #requests: Limiter;

  constructor(private readonly options: BatchedDeliveryOptions) {
    this.#waitMs = options.inProgressWaitMs ?? 5000;
    this.#requests = new Limiter(options.concurrency);
    this.#records = new DeliveryRecords(options.cache, options);
  }

  /** Bounds how long an in-progress claim locks its payload: the invocation's remaining time. */
  registerInvocation(context: Pick<Context, 'getRemainingTimeInMillis'>): void {
    this.#remainingMs = () => context.getRemainingTimeInMillis();
  }

  async deliver(payload: MergedPayload, hash: string): Promise<'posted' | 'duplicate'> {
    const [outcome] = await this.deliverMany([{ payload, hash }]);
    if (outcome === 'posted' || outcome === 'duplicate') return outcome;
    if (outcome === 'held') throw new DeliveryInProgressError(hash);
    const rejected = outcome as Exclude<BatchOutcome, string>;
    throw new AnalyticsDeliveryError(rejected.status, rejected.attempts, rejected.rejected);
  }

  async deliverMany(items: DeliveryItem[]): Promise<BatchOutcome[]> {
    const outcomes = new Array<BatchOutcome>(items.length);
    const claimed = await this.#claim(items, outcomes);
    const events: BatchEvent<Claimed>[] = claimed.map((claim) => {
      const { payload, canonical } = items[claim.index] as (typeof items)[number];
      return {
        item: claim,
        id: claim.hash,
        json: eventJson(payload, claim.hash, this.options.format, canonical),
      };
    });
    const { requests, oversized } = planRequests(events, this.options.format);
    for (const event of oversized) {
      outcomes[event.item.index] = {
        rejected: `event is ${Buffer.byteLength(event.json)} bytes, over the ${this.options.format.maxBytes}-byte request limit`,
        attempts: 0,
      };
    }
    await this.#release(oversized.map((event) => event.item));
    const sent = new Set<BatchEvent<Claimed>[]>();
    try {
      await mapWithConcurrency(requests, this.options.concurrency, (request) => {
        sent.add(request);
        return this.#requests.run(() => this.#send(request, outcomes));
      });
    } catch (error) {
      // The requests never sent give their claims back, so a retry need not wait them out.
      await this.#release(
        requests
          .filter((request) => !sent.has(request))
          .flatMap((request) => request.map((event) => event.item)),
      );
      throw error;
    }
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
    let pending: Claimed[] = items.map(({ hash }, index) => ({ index, hash }));
    const deadline = Date.now() + this.#waitMs;
    for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
      let results: ClaimResult[];
      try {
        results = await this.#records.claimAll(
          pending.map(({ hash }) => hash),
          this.#remainingMs(),
        );
      } catch (error) {
        // claimAll gave back this round's claims; the earlier rounds' go too.
        await this.#release(claimed);
        throw error;
      }
      const busy: Claimed[] = [];
      for (const [i, result] of results.entries()) {
        const claim = pending[i] as Claimed;
        if (result === 'claimed') claimed.push(claim);
        else if (result === 'duplicate') outcomes[claim.index] = 'duplicate';
        else busy.push(claim);
      }
      // Past the wait, what is still held elsewhere is left to a retry of its record; the rest
      // goes on.
      if (busy.length > 0 && Date.now() + pause > deadline) {
        for (const claim of busy) outcomes[claim.index] = 'held';
        busy.length = 0;
      }
      if (busy.length === 0) return claimed.sort((a, b) => a.index - b.index);
      await new Promise((resolve) => setTimeout(resolve, pause));
      pending = busy;
    }
  }

  /** Releases claims (one DEL per key, sent together). */
  #release(claims: readonly Claimed[]): Promise<void> {
    return this.#records.releaseAll(claims.map(({ hash }) => hash));
  }

  async #send(request: BatchEvent<Claimed>[], outcomes: BatchOutcome[]): Promise<void> {
    let answer: Awaited<ReturnType<BatchAnalyticsSink['postBatch']>>;
    try {
      answer = await this.options.analytics.postBatch(request);
    } catch (error) {
      await this.#release(request.map((event) => event.item));
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
    const completed: {
      identity: string;
      result: { hash: string; attempts: number; postedAt: string };
    }[] = [];
    const released: string[] = [];
    const postedAt = new Date().toISOString();
    for (const [i, event] of request.entries()) {
      const verdict = answer.verdicts[i] ?? { accepted: false, reason: 'no verdict for the event' };
      if (verdict.accepted) {
        outcomes[event.item.index] = 'posted';
        completed.push({
          identity: event.id,
          result: { hash: event.id, attempts: answer.attempts, postedAt },
        });
      } else {
        outcomes[event.item.index] = {
          rejected: `rejected by Analytics: ${verdict.reason}`,
          attempts: answer.attempts,
          status: 'status' in verdict ? verdict.status : undefined,
        };
        released.push(event.id);
      }
    }
    // Both writes finish (or fail) before this returns: none is left running behind a failure.
    const writes = await Promise.allSettled([
      this.#records.completeAll(completed),
      this.#records.releaseAll(released),
    ]);
    for (const write of writes) if (write.status === 'rejected') throw write.reason;
  }
}
