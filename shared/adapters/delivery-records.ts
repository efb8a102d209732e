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
import type { CacheEntry } from './idempotency-cache.ts';

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

/** A cache that takes many records per call (IoRedisCacheClient.setMany). */
type BulkCacheClient = CacheClient & {
  setMany(entries: readonly CacheEntry[], options?: { NX?: boolean }): Promise<(string | null)[]>;
};

const isBulk = (client: CacheClient): client is BulkCacheClient =>
  typeof (client as Partial<BulkCacheClient>).setMany === 'function';

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
 * batch mode (`claimAll`, `completeAll`, `releaseAll`, `isDelivered` here) reach the same
 * record for a payload, and the key derivation stays Powertools' own.
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

  /**
   * Claims many payloads at once, with the outcome `claim` gives each: the records saveInProgress
   * would write (same keys, same stored form), issued together so the client sends them as a few
   * commands, without Powertools' per-call bookkeeping. A payload whose record exists is decided
   * from one read of it (delivered, or held elsewhere); only orphans, rare, take the per-call path
   * that takes them over under a lock. When the store fails while the found records are read,
   * the claims this call made are released before the error is thrown. The local cache is not consulted: this layer's
   * configuration never enables it.
   */
  async claimAll(identities: readonly string[], remainingMs: number): Promise<ClaimResult[]> {
    const expiration = this.#expiryNow();
    const text = storedText({
      status: IdempotencyRecordStatus.INPROGRESS,
      expiration,
      in_progress_expiration: Date.now() + remainingMs,
    });
    const ttl = this.#ttlOf(expiration);
    const keys = identities.map((identity) => this.getHashedIdempotencyKey(identity));
    // When this fails, no claim of the call is known to have landed: none is released (one
    // that did land stays in progress until its deadline, never deleted unseen).
    const won = await this.#setAll(
      keys.map((key) => ({ key, value: text, ttl })),
      true,
    );
    // Most claims are decided by their SET NX; those that found a record read it.
    const results: (ClaimResult | undefined)[] = [];
    const found: number[] = [];
    for (const [i, answer] of won.entries()) {
      if (answer !== null) results[i] = 'claimed';
      else found.push(i);
    }
    const decided = await Promise.allSettled(
      found.map(async (i): Promise<ClaimResult> => {
        const verdict = existingVerdict(await this.#existing(keys[i] as string));
        if (verdict !== 'orphan') return verdict;
        return this.claim(identities[i] as string, remainingMs);
      }),
    );
    let failure: { reason: unknown } | undefined;
    for (const [j, result] of decided.entries()) {
      if (result.status === 'rejected') failure ??= result;
      else results[found[j] as number] = result.value;
    }
    if (failure === undefined) return results as ClaimResult[];
    // All or nothing: what this call took is given back before the failure is reported.
    await this.releaseAll(identities.filter((_, i) => results[i] === 'claimed'));
    throw failure.reason;
  }

  /**
   * Marks many claimed payloads delivered: the records saveSuccess would write, issued together.
   */
  async completeAll(entries: readonly { identity: string; result: JSONValue }[]): Promise<void> {
    if (entries.length === 0) return;
    const expiration = this.#expiryNow();
    const ttl = this.#ttlOf(expiration);
    const status = IdempotencyRecordStatus.COMPLETED;
    await this.#setAll(
      entries.map(({ identity, result }) => ({
        key: this.getHashedIdempotencyKey(identity),
        value: storedText({ status, expiration, data: result }),
        ttl,
      })),
      false,
    );
  }

  /** Releases many claims with one call to the client. */
  async releaseAll(identities: readonly string[]): Promise<void> {
    if (identities.length === 0) return;
    await this.client.del(identities.map((identity) => this.getHashedIdempotencyKey(identity)));
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
    const expiration = record.expiryTimestamp ?? this.#expiryNow();
    const text = storedText({
      status: IdempotencyRecordStatus.INPROGRESS,
      expiration,
      ...(record.inProgressExpiryTimestamp !== undefined && {
        in_progress_expiration: record.inProgressExpiryTimestamp,
      }),
    });
    const ttl = this.#ttlOf(expiration);
    const key = record.idempotencyKey;
    if ((await this.client.set(key, text, { EX: ttl, NX: true })) !== null) return;
    const existing = await this.#existing(key);
    if (existing && existingVerdict(existing) !== 'orphan') {
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
    const expiration = record.expiryTimestamp ?? this.#expiryNow();
    const text = storedText({
      status: record.getStatus() as StoredRecord['status'],
      expiration,
      ...(record.responseData !== undefined && { data: record.responseData }),
    });
    await this.client.set(record.idempotencyKey, text, { EX: this.#ttlOf(expiration) });
  }

  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    await this.client.del([record.idempotencyKey]);
  }

  /** Writes the entries (SET NX when `claim`): one call where the cache takes many, else one each. */
  #setAll(entries: CacheEntry[], claim: boolean): Promise<unknown[]> {
    if (isBulk(this.client)) return this.client.setMany(entries, { NX: claim });
    return Promise.all(
      entries.map(({ key, value, ttl }) =>
        this.client.set(key, value, claim ? { EX: ttl, NX: true } : { EX: ttl }),
      ),
    );
  }

  /** The record under `key`, or undefined when there is none (gone meanwhile). */
  #existing(key: string): Promise<IdempotencyRecord | undefined> {
    return this._getRecord(key).catch((error: unknown) => {
      if (error instanceof IdempotencyItemNotFoundError) return undefined;
      throw error;
    });
  }

  #expiryNow(): number {
    return Math.round(Date.now() / 1000 + this.getExpiresAfterSeconds());
  }

  /** Redis TTL (whole seconds, at least 1) for a record expiring at `expiration`. */
  #ttlOf(expiration: number): number {
    return Math.max(1, expiration - Math.floor(Date.now() / 1000));
  }
}

/** The one stored form of a record, whichever path writes it. */
function storedText(record: StoredRecord): string {
  return JSON.stringify(record);
}

/**
 * What an existing record means to a claim: delivered (COMPLETED and unexpired), held by another
 * invocation (INPROGRESS within its in-progress expiry), or an orphan to take over (anything
 * else: expired, abandoned, unreadable, or gone).
 */
function existingVerdict(existing: IdempotencyRecord | undefined): ClaimResult | 'orphan' {
  const status = existing?.getStatus();
  if (status === IdempotencyRecordStatus.COMPLETED) return 'duplicate';
  if (
    status === IdempotencyRecordStatus.INPROGRESS &&
    (existing?.inProgressExpiryTimestamp ?? 0) > Date.now()
  ) {
    return 'busy';
  }
  return 'orphan';
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
