import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { CachePersistenceLayer } from '@aws-lambda-powertools/idempotency/cache';
import type { CacheClient } from '@aws-lambda-powertools/idempotency/cache/types';
import type { Context } from 'aws-lambda';
import type { MergedPayload } from '../domain/merge.ts';
import { DeliveryInProgressError } from '../errors.ts';
import type { AnalyticsSink, OnceDelivery } from '../ports.ts';

/** The cache Powertools uses, plus a batched read for the pre-check. */
export type DeliveryCache = CacheClient & {
  getMany(names: string[]): Promise<(string | null)[]>;
};

export type OnceDeliveryOptions = {
  /** Where the idempotency records live: Redis through IoRedisCacheClient in production. */
  cache: DeliveryCache;
  analytics: AnalyticsSink;
  /** How long a delivered payload's hash is remembered. */
  ttlSeconds: number;
  keyPrefix: string;
  /** How long to wait for another invocation that holds the same payload in progress. */
  inProgressWaitMs?: number;
};

/**
 * Powertools' Redis persistence, with the one extra the batch pre-check needs: the record key.
 * Batch delivery (batch-delivery.ts) builds its keys with it too, so both modes share records.
 */
export class DeliveryRecords extends CachePersistenceLayer {
  keyOf(payload: MergedPayload): string {
    return this.getHashedIdempotencyKey(payload as unknown as JSONValue);
  }
}

/**
 * Delivers each distinct payload once, with Powertools idempotency over Redis: the key is the
 * SHA-256 of the payload's canonical JSON (sorted keys). A failed POST deletes the in-progress
 * record, so the payload can be delivered by a later replay.
 */
export class IdempotentDelivery implements OnceDelivery {
  #config: IdempotencyConfig;
  #postOnce: (payload: MergedPayload, hash: string) => Promise<unknown>;
  #executed = new WeakSet<MergedPayload>();
  #waitMs: number;
  #records: DeliveryRecords;
  #cache: DeliveryCache;

  constructor(options: OnceDeliveryOptions) {
    this.#waitMs = options.inProgressWaitMs ?? 5000;
    this.#config = new IdempotencyConfig({
      expiresAfterSeconds: options.ttlSeconds,
      hashFunction: 'sha256',
    });
    this.#cache = options.cache;
    const keyPrefix = `${options.keyPrefix}delivered`;
    const persistenceStore = new DeliveryRecords({
      client: options.cache,
      statusAttr: 'status',
      expiryAttr: 'expiration',
    });
    persistenceStore.configure({ config: this.#config, keyPrefix });
    this.#records = persistenceStore;
    this.#postOnce = makeIdempotent(
      async (payload: MergedPayload, hash: string) => {
        const { attempts } = await options.analytics.post(payload, hash);
        this.#executed.add(payload);
        return { hash, attempts, postedAt: new Date().toISOString() };
      },
      {
        persistenceStore,
        config: this.#config,
        keyPrefix,
        dataIndexArgument: 0,
      },
    );
  }

  /** Bounds how long an in-progress record stays locked: the invocation's remaining time. */
  registerInvocation(context: Pick<Context, 'getRemainingTimeInMillis'>): void {
    this.#config.registerLambdaContext(context as Context);
  }

  /**
   * Which payloads already have a COMPLETED, unexpired record, read in a few MGETs. The merge
   * skips these without going through the per-payload idempotency calls; the rest go through
   * deliver().
   */
  async delivered(payloads: MergedPayload[]): Promise<boolean[]> {
    const now = Date.now() / 1000;
    const records = await this.#cache.getMany(
      payloads.map((payload) => this.#records.keyOf(payload)),
    );
    return records.map((record) => {
      if (record === null) return false;
      try {
        const { status, expiration } = JSON.parse(record) as {
          status?: string;
          expiration?: number;
        };
        return status === 'COMPLETED' && typeof expiration === 'number' && expiration > now;
      } catch {
        return false;
      }
    });
  }

  async deliver(payload: MergedPayload, hash: string): Promise<'posted' | 'duplicate'> {
    const deadline = Date.now() + this.#waitMs;
    for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
      try {
        await this.#postOnce(payload, hash);
        return this.#executed.has(payload) ? 'posted' : 'duplicate';
      } catch (error) {
        if ((error as Error).name !== 'IdempotencyAlreadyInProgressError') throw error;
        if (Date.now() + pause > deadline) throw new DeliveryInProgressError(hash);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }
}
