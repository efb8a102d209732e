import {
  IdempotencyAlreadyInProgressError,
  IdempotencyInconsistentStateError,
  IdempotencyItemNotFoundError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { CacheClient } from '@aws-lambda-powertools/idempotency/cache/types';
import type { Context } from 'aws-lambda';
import type { MergedPayload } from '../domain/merge.ts';
import { DeliveryInProgressError } from '../errors.ts';
import type {
  AnalyticsSink,
  BatchOutcome,
  DeliveryItem,
  OnceDelivery,
  PayloadDelivery,
} from '../ports.ts';
import { DeliveryRecords } from './delivery-records.ts';
import { OneAtATimeDelivery } from './one-at-a-time-delivery.ts';

/** Where the idempotency records live: Powertools' cache client shape (Redis in production). */
export type DeliveryCache = CacheClient;

export type OnceDeliveryOptions = {
  /** Where the idempotency records live: Redis through IoRedisCacheClient in production. */
  cache: DeliveryCache;
  analytics: AnalyticsSink;
  /** How long a delivered payload's hash is remembered. */
  ttlSeconds: number;
  keyPrefix: string;
  /** How long to wait for another invocation that holds the same payload in progress. */
  inProgressWaitMs?: number;
  /**
   * POSTs in flight at once across the `deliverMany` calls in flight (ANALYTICS_CONCURRENCY);
   * one at a time when not given.
   */
  concurrency?: number;
};

/** What the idempotent POST returns, and Powertools stores as the record's data. */
type Delivered = { hash: string; attempts: number; postedAt: string; replayed?: true };

/**
 * Delivers each distinct payload once, with Powertools idempotency (`makeIdempotent`) over the
 * records of DeliveryRecords: the record is keyed by the payload's identity (`payloadHash`, the
 * hash the caller passes, the same one in the Idempotency-Key header, the logs and dead
 * letters). A failed POST deletes the in-progress record, so a later replay can deliver it.
 * As the delivery port (single mode), it takes many payloads through OneAtATimeDelivery:
 * a pre-check, then one POST per payload, a bounded number at a time.
 */
export class IdempotentDelivery implements OnceDelivery, PayloadDelivery {
  #postOnce: (payload: MergedPayload, hash: string) => Promise<Delivered>;
  #waitMs: number;
  #records: DeliveryRecords;
  #many: OneAtATimeDelivery;

  constructor(options: OnceDeliveryOptions) {
    this.#waitMs = options.inProgressWaitMs ?? 5000;
    this.#many = new OneAtATimeDelivery(this, options.concurrency ?? 1);
    this.#records = new DeliveryRecords(options.cache, options);
    this.#postOnce = makeIdempotent(
      async (payload: MergedPayload, hash: string): Promise<Delivered> => {
        const { attempts } = await options.analytics.post(payload, hash);
        return { hash, attempts, postedAt: new Date().toISOString() };
      },
      {
        persistenceStore: this.#records,
        config: this.#records.config,
        keyPrefix: this.#records.keyPrefix,
        // The identity, not the payload, is what Powertools hashes into the record key.
        dataIndexArgument: 1,
      },
    );
  }

  /** Bounds how long an in-progress record stays locked: the invocation's remaining time. */
  registerInvocation(context: Pick<Context, 'getRemainingTimeInMillis'>): void {
    this.#records.config.registerLambdaContext(context as Context);
  }

  /**
   * Which payloads already have a COMPLETED, unexpired record (concurrent reads that share
   * round trips): the pre-check of `deliverMany`, which skips these without going through the
   * per-payload idempotency calls; the rest go through deliver().
   */
  delivered(hashes: string[]): Promise<boolean[]> {
    return Promise.all(hashes.map((hash) => this.#records.isDelivered(hash)));
  }

  deliverMany(items: DeliveryItem[]): Promise<BatchOutcome[]> {
    return this.#many.deliverMany(items);
  }

  async deliver(payload: MergedPayload, hash: string): Promise<'posted' | 'duplicate'> {
    const deadline = Date.now() + this.#waitMs;
    for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
      try {
        const result = await this.#postOnce(payload, hash);
        return result.replayed === true ? 'duplicate' : 'posted';
      } catch (error) {
        if (!isHeldElsewhere(error)) throw error;
        if (Date.now() + pause > deadline) throw new DeliveryInProgressError(hash);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }
}

/**
 * Another invocation holds the payload: in progress, or its orphaned record is being taken over
 * (Powertools reports that as an inconsistent state after its own retries, or a record gone).
 */
function isHeldElsewhere(error: unknown): boolean {
  return (
    error instanceof IdempotencyAlreadyInProgressError ||
    error instanceof IdempotencyInconsistentStateError ||
    error instanceof IdempotencyItemNotFoundError
  );
}
