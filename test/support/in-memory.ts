import type { DeliveryCache } from '../../shared/adapters/once-delivery.ts';
import type { JoinState, MergedPayload, RecordOrigin } from '../../shared/domain/merge.ts';
import type { SourceRecord } from '../../shared/domain/records.ts';
import { AnalyticsDeliveryError, SourceResponseError } from '../../shared/errors.ts';
import type {
  AnalyticsSink,
  DeadLetter,
  DeadLetterSink,
  JoinStore,
  JoinUpsert,
  OutboundMessage,
  PendingEntry,
  PendingIndex,
  PendingListing,
  PendingLook,
  Publisher,
  QuarantineEntry,
  QuarantineSink,
  SourcePageReader,
  SyncCheckpoint,
  SyncStateStore,
} from '../../shared/ports.ts';
import type { SourceDefinition } from '../../shared/sources/definition.ts';
import { PageShapeError, parsePage, type SourcePage } from '../../shared/sources/page.ts';
import { BUILT_IN_JOIN } from '../../shared/sources/registry.ts';

/** Unit-test ports: the same contracts as the adapters, kept in memory. */

type MemoryRow = {
  sides: Record<string, { record: object; version: number; origin?: RecordOrigin | undefined }>;
  emitted: boolean;
};

/**
 * The join store and its pending index in memory: the same contracts as RedisJoinStore and
 * RedisPendingIndex (the contract tests run on both). `now` is the clock of first-seen times.
 */
export class MemoryJoinStore implements JoinStore, PendingIndex {
  readonly rows = new Map<string, MemoryRow>();
  /** First-seen time of every pending id, and of those not yet acted on by the policy. */
  readonly pending = new Map<string, number>();
  readonly dueIds = new Map<string, number>();

  constructor(
    readonly join: { required: readonly string[] } = BUILT_IN_JOIN,
    public now: () => number = Date.now,
  ) {}

  async upsertMany(upserts: JoinUpsert[]): Promise<JoinState[]> {
    const now = this.now();
    return upserts.map(({ id, side, record, version, origin }) => {
      const row = this.rows.get(id) ?? { sides: {}, emitted: false };
      const stored = row.sides[side];
      if (!stored || stored.version <= version) {
        row.sides[side] = { record: structuredClone(record), version, origin };
      }
      this.rows.set(id, row);
      if (this.#complete(row)) this.#unindex(id);
      else {
        if (!this.pending.has(id)) this.pending.set(id, now);
        if (!row.emitted && !this.dueIds.has(id)) this.dueIds.set(id, now);
      }
      return this.#state(row);
    });
  }

  async due(cutoffMs: number, limit: number): Promise<PendingEntry[]> {
    return [...this.dueIds]
      .filter(([, firstSeenMs]) => firstSeenMs <= cutoffMs)
      .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, limit)
      .map(([id, firstSeenMs]) => ({ id, firstSeenMs }));
  }

  async look(id: string): Promise<PendingLook> {
    const row = this.rows.get(id);
    if (!row || this.#complete(row)) {
      this.#unindex(id);
      return { status: row ? 'complete' : 'gone' };
    }
    return { status: 'pending', state: this.#state(row), firstSeenMs: this.pending.get(id) ?? 0 };
  }

  async markEmitted(id: string): Promise<void> {
    const row = this.rows.get(id);
    if (row) row.emitted = true;
    this.dueIds.delete(id);
  }

  async drop(id: string, cutoffMs: number): Promise<boolean> {
    const row = this.rows.get(id);
    if (!row || this.#complete(row)) {
      this.#unindex(id);
      return false;
    }
    const firstSeen = this.pending.get(id);
    if (firstSeen === undefined || firstSeen > cutoffMs) return false;
    this.rows.delete(id);
    this.#unindex(id);
    return true;
  }

  async prune(limit: number): Promise<number> {
    let removed = 0;
    for (const [id] of [...this.pending].sort((a, b) => a[1] - b[1]).slice(0, limit)) {
      const row = this.rows.get(id);
      if (row && !this.#complete(row)) continue;
      this.#unindex(id);
      removed++;
    }
    return removed;
  }

  async stats() {
    const oldest = Math.min(...this.pending.values());
    return {
      pending: this.pending.size,
      oldestFirstSeenMs: this.pending.size === 0 ? null : oldest,
    };
  }

  async list(limit: number): Promise<PendingListing[]> {
    return [...this.pending]
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([id, firstSeenMs]) => {
        const row = this.rows.get(id);
        return {
          id,
          firstSeenMs,
          sides: Object.keys(row?.sides ?? {}),
          emitted: row?.emitted ?? false,
        };
      });
  }

  #complete(row: MemoryRow): boolean {
    return this.join.required.every((side) => row.sides[side] !== undefined);
  }

  #unindex(id: string): void {
    this.pending.delete(id);
    this.dueIds.delete(id);
  }

  #state(row: MemoryRow): JoinState {
    const sides = Object.fromEntries(
      Object.entries(row.sides).map(([side, stored]) => [side, stored.record]),
    ) as JoinState['sides'];
    const origins = Object.entries(row.sides).flatMap(([side, stored]) =>
      stored.origin ? [[side, stored.origin] as const] : [],
    );
    return structuredClone({
      sides,
      emitted: row.emitted,
      ...(origins.length > 0 && { origins: Object.fromEntries(origins) }),
    });
  }
}

export class MemoryCache implements DeliveryCache {
  readonly values = new Map<string, { value: string; expires: number }>();
  async get(name: string) {
    const entry = this.values.get(name);
    return entry && entry.expires > Date.now() ? entry.value : null;
  }
  async set(name: string | Uint8Array, value: unknown, options?: unknown) {
    const key = String(name);
    const { EX, NX } = (options ?? {}) as { EX?: number; NX?: boolean };
    if (NX && (await this.get(key)) !== null) return null;
    this.values.set(key, {
      value: String(value),
      expires: EX ? Date.now() + EX * 1000 : Number.POSITIVE_INFINITY,
    });
    return 'OK';
  }
  async del(keys: string[]) {
    let removed = 0;
    for (const key of keys) if (this.values.delete(key)) removed++;
    return removed;
  }
}

/** A delivered payload as the tests read it: sides by name (null when emitted missing). */
export type ReceivedPayload = {
  id: string;
  customer: SourceRecord;
  inventory: SourceRecord;
  [side: string]: unknown;
};

/** Analytics that accepts everything, or refuses the ids in `refuse`. */
export class MemoryAnalytics implements AnalyticsSink {
  readonly received: ReceivedPayload[] = [];
  readonly refuse = new Set<string>();
  async post(payload: MergedPayload): Promise<{ attempts: number }> {
    if (this.refuse.has(payload.id ?? '')) throw new AnalyticsDeliveryError(503, 3, 'HTTP 503');
    this.received.push(payload as ReceivedPayload);
    return { attempts: 1 };
  }
}

export class MemorySinks implements QuarantineSink, DeadLetterSink, Publisher {
  readonly quarantined: QuarantineEntry[] = [];
  readonly deadLetters: DeadLetter[] = [];
  readonly published = new Map<string, OutboundMessage[]>();
  async quarantine(entries: QuarantineEntry[]) {
    this.quarantined.push(...entries);
  }
  async send(letters: DeadLetter[]) {
    this.deadLetters.push(...letters);
  }
  async publish(topic: string, messages: OutboundMessage[]) {
    this.published.set(topic, [...(this.published.get(topic) ?? []), ...messages]);
  }
}

/**
 * A source served from memory: `answer` gives the body for a page URL (or an error to throw, as
 * a reader that gave up would). Pages are read in the source's declared shape and pagination, and
 * a body of the wrong shape throws SourceResponseError with the body, as the HTTP reader does
 * after its retries. `secretParam` is a query parameter that `redact` removes.
 */
export class MemorySourceReader implements SourcePageReader {
  /** Every URL asked for, in order. */
  readonly read: string[] = [];
  retries = 0;
  constructor(
    private readonly source: SourceDefinition,
    private readonly pageSize: number,
    private readonly answer: (url: URL) => string | Error,
    private readonly secretParam?: string,
  ) {}

  async readPage(url: string): Promise<SourcePage> {
    this.read.push(url);
    const body = this.answer(new URL(url));
    if (body instanceof Error) throw body;
    try {
      return parsePage(this.source, { url, body }, this.pageSize);
    } catch (error) {
      if (error instanceof PageShapeError) throw new SourceResponseError(url, error.message, body);
      throw error;
    }
  }

  redact(url: string): string {
    if (!this.secretParam) return url;
    const parsed = new URL(url);
    parsed.searchParams.delete(this.secretParam);
    return parsed.toString();
  }
}

/**
 * Sync state kept in memory, with the contract of the Redis adapter: a lease owned by one token
 * until it expires or is released, a cursor that only `completeRun` moves, and a checkpoint kept
 * as a copy (as a stored one would be). `saved` lists every checkpoint saved, in order.
 */
export class MemorySyncState implements SyncStateStore {
  readonly cursors = new Map<string, number>();
  readonly tokens = new Map<string, string>();
  readonly checkpoints = new Map<string, SyncCheckpoint>();
  readonly leases = new Map<string, { owner: string; expires: number }>();
  readonly saved: SyncCheckpoint[] = [];
  constructor(private readonly clock: () => number = Date.now) {}

  #holder(source: string): string | undefined {
    const lease = this.leases.get(source);
    return lease && lease.expires > this.clock() ? lease.owner : undefined;
  }
  async acquireLease(source: string, owner: string, ttlMs: number) {
    if (this.#holder(source) !== undefined) return false;
    this.leases.set(source, { owner, expires: this.clock() + ttlMs });
    return true;
  }
  async renewLease(source: string, owner: string, ttlMs: number) {
    if (this.#holder(source) !== owner) return false;
    this.leases.set(source, { owner, expires: this.clock() + ttlMs });
    return true;
  }
  async releaseLease(source: string, owner: string) {
    if (this.#holder(source) === owner) this.leases.delete(source);
  }
  async readCursor(source: string) {
    return this.cursors.get(source) ?? null;
  }
  async readCheckpoint(source: string) {
    const checkpoint = this.checkpoints.get(source);
    return checkpoint ? structuredClone(checkpoint) : null;
  }
  async saveCheckpoint(source: string, checkpoint: SyncCheckpoint) {
    this.checkpoints.set(source, structuredClone(checkpoint));
    this.saved.push(structuredClone(checkpoint));
  }
  async readSyncToken(source: string) {
    return this.tokens.get(source) ?? null;
  }
  async completeRun(source: string, cursor: number | null, syncToken?: string) {
    this.checkpoints.delete(source);
    const stored = this.cursors.get(source);
    if (cursor !== null && (stored === undefined || stored < cursor)) {
      this.cursors.set(source, cursor);
    }
    if (syncToken !== undefined) this.tokens.set(source, syncToken);
  }
  async clearCheckpoint(source: string) {
    this.checkpoints.delete(source);
  }
}

/** A logger that keeps what it was told, for assertions. */
export function memoryLog() {
  const lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: unknown, attributes?: unknown) => {
    lines.push({
      level,
      message: String(message),
      attributes: (attributes ?? {}) as Record<string, unknown>,
    });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
