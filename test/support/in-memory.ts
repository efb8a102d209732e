import type { DeliveryCache } from '../../shared/adapters/once-delivery.ts';
import type { JoinState, MergedPayload } from '../../shared/domain/merge.ts';
import { AnalyticsDeliveryError } from '../../shared/errors.ts';
import type {
  AnalyticsSink,
  DeadLetter,
  DeadLetterSink,
  JoinStore,
  JoinUpsert,
  OutboundMessage,
  Publisher,
  QuarantineEntry,
  QuarantineSink,
} from '../../shared/ports.ts';

/** Unit-test ports: the same contracts as the adapters, kept in memory. */

export class MemoryJoinStore implements JoinStore {
  readonly rows = new Map<string, Record<string, { record: object; version: number }>>();
  async upsertMany(upserts: JoinUpsert[]): Promise<JoinState[]> {
    return upserts.map(({ id, side, record, version }) => {
      const row = this.rows.get(id) ?? {};
      const stored = row[side];
      if (!stored || stored.version <= version) row[side] = { record, version };
      this.rows.set(id, row);
      const state: JoinState = {};
      if (row.customer) state.customer = row.customer.record as JoinState['customer'];
      if (row.inventory) state.inventory = row.inventory.record as JoinState['inventory'];
      return structuredClone(state);
    });
  }
}

export class MemoryCache implements DeliveryCache {
  readonly values = new Map<string, { value: string; expires: number }>();
  async get(name: string) {
    const entry = this.values.get(name);
    return entry && entry.expires > Date.now() ? entry.value : null;
  }
  async getMany(names: string[]) {
    return Promise.all(names.map((name) => this.get(name)));
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

/** Analytics that accepts everything, or refuses the ids in `refuse`. */
export class MemoryAnalytics implements AnalyticsSink {
  readonly received: MergedPayload[] = [];
  readonly refuse = new Set<string>();
  async post(payload: MergedPayload): Promise<{ attempts: number }> {
    if (this.refuse.has(payload.id)) throw new AnalyticsDeliveryError(503, 3, 'HTTP 503');
    this.received.push(payload);
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
