import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import {
  IdempotencyConfig,
  IdempotencyItemAlreadyExistsError,
  IdempotencyItemNotFoundError,
  IdempotencyRecordStatus,
} from '@aws-lambda-powertools/idempotency';
import type { CacheClient } from '@aws-lambda-powertools/idempotency/cache/types';
import {
  BasePersistenceLayer,
  IdempotencyRecord,
} from '@aws-lambda-powertools/idempotency/persistence';

/** A record as stored in Redis: JSON under `<prefix>delivered#<key hash>`. */
type StoredRecord = {
  status: 'INPROGRESS' | 'COMPLETED';
  /** Seconds since the epoch after which the record no longer counts. */
  expiration: number;
  /** Milliseconds since the epoch after which an INPROGRESS record is an orphan. */
  in_progress_expiration?: number;
  /** What the delivery returned: `{hash, attempts, postedAt}`. */
  data?: JSONValue;
};

/** How long the lock on an orphaned record lasts, as Powertools' own cache layer takes it. */
const ORPHAN_LOCK_SECONDS = 10;

/**
 * Record keys remembered (identity -> key): enough for a batch's claims and the completions that
 * follow them; the map starts over when full.
 */
const KEY_MEMO_SIZE = 16_384;

/** What a claim found: this call holds the payload, it was delivered, or someone else holds it. */
export type ClaimResult = 'claimed' | 'duplicate' | 'busy';

export type DeliveryRecordsOptions = {
  /** Prefix of every key (the function's REDIS_KEY_PREFIX); records live under `<prefix>delivered`. */
  keyPrefix: string;
  /** How long a delivered payload is remembered. */
  ttlSeconds: number;
};

/**
 * The idempotency records of delivered payloads, shared by both delivery modes: a Powertools
 * persistence layer built on its public extension point (the four abstract methods of
 * BasePersistenceLayer) over any CacheClient (Redis through IoRedisCacheClient).
 *
 * The data Powertools hashes into the record key is the payload's identity (`payloadHash`,
 * passed as `identity`), never the payload: single mode (`makeIdempotent` with this layer) and
 * batch mode (`claim`, `complete`, `release`, `isDelivered` here) reach the same record for a
 * payload, and the key derivation stays Powertools' own.
 *
 * The stored form is this layer's (it no longer depends on another layer's private format): an
 * unreadable record, one without a numeric expiry or with an unknown status, counts as expired,
 * so it is taken over as an orphan instead of blocking or counting as delivered.
 */
export class DeliveryRecords extends BasePersistenceLayer {
  /** The configuration this layer and `makeIdempotent` share. */
  readonly config: IdempotencyConfig;
  readonly keyPrefix: string;
  readonly #keys = new Map<string, string>();

  constructor(
    private readonly client: CacheClient,
    options: DeliveryRecordsOptions,
  ) {
    super();
    this.keyPrefix = `${options.keyPrefix}delivered`;
    this.config = new IdempotencyConfig({
      expiresAfterSeconds: options.ttlSeconds,
      hashFunction: 'sha256',
      // Powertools calls this only when it returns a stored result instead of running the
      // function: the one public signal that a call was a duplicate.
      responseHook: (response) => ({ ...(response as object), replayed: true }),
    });
    this.configure({ config: this.config, keyPrefix: this.keyPrefix });
  }

  /**
   * Claims a payload (an INPROGRESS record that holds for `remainingMs`). 'duplicate' when a
   * COMPLETED, unexpired record exists; 'busy' when another invocation holds it (or holds the
   * lock on its orphaned record). Throws when the store fails.
   */
  async claim(identity: string, remainingMs: number): Promise<ClaimResult> {
    try {
      await this.saveInProgress(identity, remainingMs);
      return 'claimed';
    } catch (error) {
      if (!(error instanceof IdempotencyItemAlreadyExistsError)) throw error;
      return error.existingRecord?.getStatus() === IdempotencyRecordStatus.COMPLETED
        ? 'duplicate'
        : 'busy';
    }
  }

  /** Marks a claimed payload delivered, with what the delivery returned. */
  complete(identity: string, result: JSONValue): Promise<void> {
    return this.saveSuccess(identity, result);
  }

  /** Releases a claim, so a later attempt can deliver the payload. */
  release(identity: string): Promise<void> {
    return this.deleteRecord(identity);
  }

  /** Whether a COMPLETED, unexpired record exists for the payload. */
  async isDelivered(identity: string): Promise<boolean> {
    try {
      const record = await this.getRecord(identity);
      return record.getStatus() === IdempotencyRecordStatus.COMPLETED;
    } catch (error) {
      if (error instanceof IdempotencyItemNotFoundError) return false;
      throw error;
    }
  }

  /**
   * Powertools' own key derivation (sorted JSON of the identity, SHA-256, base64, after the
   * prefix), computed once per identity instead of at each of its claim, completion, release and
   * read: the key depends on nothing else.
   */
  protected override getHashedIdempotencyKey(data: JSONValue): string {
    if (typeof data !== 'string') return super.getHashedIdempotencyKey(data);
    let key = this.#keys.get(data);
    if (key === undefined) {
      key = super.getHashedIdempotencyKey(data);
      if (this.#keys.size >= KEY_MEMO_SIZE) this.#keys.clear();
      this.#keys.set(data, key);
    }
    return key;
  }

  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const text = await this.client.get(idempotencyKey);
    if (text === null) {
      throw new IdempotencyItemNotFoundError('Item does not exist in persistence store');
    }
    const stored = parseRecord(String(text));
    if (stored === undefined) {
      // Counts as expired: Powertools retries the claim, which takes the record over.
      return new IdempotencyRecord({
        idempotencyKey,
        status: IdempotencyRecordStatus.EXPIRED,
        expiryTimestamp: 0,
      });
    }
    return new IdempotencyRecord({
      idempotencyKey,
      status: stored.status,
      expiryTimestamp: stored.expiration,
      inProgressExpiryTimestamp: stored.in_progress_expiration,
      responseData: stored.data,
    });
  }

  /** Claims with SET NX; an existing record is a duplicate, held, or an orphan to take over. */
  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const stored: StoredRecord = {
      status: IdempotencyRecordStatus.INPROGRESS,
      expiration: record.expiryTimestamp ?? this.#expiryNow(),
      ...(record.inProgressExpiryTimestamp !== undefined && {
        in_progress_expiration: record.inProgressExpiryTimestamp,
      }),
    };
    const text = JSON.stringify(stored);
    const ttl = this.#ttlOf(stored.expiration);
    const key = record.idempotencyKey;
    if ((await this.client.set(key, text, { EX: ttl, NX: true })) !== null) return;
    const existing = await this._getRecord(key).catch((error: unknown) => {
      if (error instanceof IdempotencyItemNotFoundError) return undefined; // gone meanwhile
      throw error;
    });
    const status = existing?.getStatus();
    const held =
      status === IdempotencyRecordStatus.INPROGRESS &&
      (existing?.inProgressExpiryTimestamp ?? 0) > Date.now();
    if (existing && (status === IdempotencyRecordStatus.COMPLETED || held)) {
      throw new IdempotencyItemAlreadyExistsError(
        `Failed to put record for already existing idempotency key: ${key}`,
        existing,
      );
    }
    // An orphan (expired, abandoned in progress, unreadable, or deleted meanwhile).
    const lock = await this.client.set(`${key}:lock`, 'true', {
      EX: ORPHAN_LOCK_SECONDS,
      NX: true,
    });
    if (lock === null) {
      throw new IdempotencyItemAlreadyExistsError('Lock acquisition failed, raise to retry');
    }
    await this.client.set(key, text, { EX: ttl });
  }

  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    const stored: StoredRecord = {
      status: record.getStatus() as StoredRecord['status'],
      expiration: record.expiryTimestamp ?? this.#expiryNow(),
      ...(record.responseData !== undefined && { data: record.responseData }),
    };
    await this.client.set(record.idempotencyKey, JSON.stringify(stored), {
      EX: this.#ttlOf(stored.expiration),
    });
  }

  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    await this.client.del([record.idempotencyKey]);
  }

  #expiryNow(): number {
    return Math.round(Date.now() / 1000 + this.getExpiresAfterSeconds());
  }

  /** Redis TTL (whole seconds, at least 1) for a record expiring at `expiration`. */
  #ttlOf(expiration: number): number {
    return Math.max(1, expiration - Math.floor(Date.now() / 1000));
  }
}

/** The stored record, or undefined when it is not one this layer wrote. */
function parseRecord(text: string): StoredRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const { status, expiration, in_progress_expiration: held } = value as Record<string, unknown>;
  if (
    status !== IdempotencyRecordStatus.INPROGRESS &&
    status !== IdempotencyRecordStatus.COMPLETED
  ) {
    return undefined;
  }
  if (typeof expiration !== 'number' || (held !== undefined && typeof held !== 'number')) {
    return undefined;
  }
  return value as StoredRecord;
}
