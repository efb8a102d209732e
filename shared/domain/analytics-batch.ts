import { createHash } from 'node:crypto';
import type { MergedPayload } from './merge.ts';

/** How a batch request's body holds its events. */
export type BatchBodyShape = 'array' | 'ndjson' | 'envelope';

/** The limits and shape of one sink's batch API (from the ANALYTICS_BATCH_* settings). */
export type BatchFormat = {
  maxEvents: number;
  maxBytes: number;
  body: BatchBodyShape;
  /** The envelope's array field, for `envelope` bodies: `{"<field>": [events]}`. */
  envelopeField: string;
  /** The field of each event that carries its id (the payload's hash). */
  eventIdField: string;
};

/** One payload ready for a batch: its id (the payload hash) and its JSON with the id in it. */
export type BatchEvent<T> = { item: T; id: string; json: string };

/**
 * The payload with its id in the declared field, as JSON. With the payload's canonical JSON at
 * hand (payloadIdentity) the id is put in front of it, so the payload is not serialised again.
 */
export function eventJson(
  payload: MergedPayload,
  id: string,
  format: BatchFormat,
  canonical?: string,
): string {
  if (canonical === undefined || Object.hasOwn(payload, format.eventIdField)) {
    return JSON.stringify({ ...payload, [format.eventIdField]: id });
  }
  const field = `${JSON.stringify(format.eventIdField)}:${JSON.stringify(id)}`;
  return canonical === '{}' ? `{${field}}` : `{${field},${canonical.slice(1)}`;
}

/** The body of a request holding these events (already JSON each). */
export function batchBody(events: readonly { json: string }[], format: BatchFormat): string {
  const parts = events.map((event) => event.json);
  if (format.body === 'ndjson') return `${parts.join('\n')}\n`;
  const array = `[${parts.join(',')}]`;
  return format.body === 'array' ? array : `{${JSON.stringify(format.envelopeField)}:${array}}`;
}

export function batchContentType(format: BatchFormat): string {
  return format.body === 'ndjson' ? 'application/x-ndjson' : 'application/json';
}

/** Bytes a body adds besides its events: brackets, separators, the envelope. */
function overheadBytes(format: BatchFormat): number {
  return format.body === 'envelope' ? Buffer.byteLength(format.envelopeField) + 6 : 2;
}

/**
 * Splits events into requests of at most `maxEvents` events and `maxBytes` bytes of body, in
 * order. An event too big for any request on its own is returned apart, in `oversized`.
 */
export function planRequests<T>(
  events: readonly BatchEvent<T>[],
  format: BatchFormat,
): { requests: BatchEvent<T>[][]; oversized: BatchEvent<T>[] } {
  const requests: BatchEvent<T>[][] = [];
  const oversized: BatchEvent<T>[] = [];
  const base = overheadBytes(format);
  let current: BatchEvent<T>[] = [];
  let bytes = base;
  for (const event of events) {
    const size = Buffer.byteLength(event.json) + 1; // its separator (comma or newline)
    if (base + size > format.maxBytes) {
      oversized.push(event);
      continue;
    }
    if (current.length >= format.maxEvents || bytes + size > format.maxBytes) {
      requests.push(current);
      current = [];
      bytes = base;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return { requests, oversized };
}

/**
 * The Idempotency-Key of a request: SHA-256 of its events' ids in order. The same events in the
 * same order (a retried request, or a retried MSK batch chunked the same way) give the same key.
 */
export function requestKey(ids: readonly string[]): string {
  return createHash('sha256').update(ids.join('\n')).digest('hex');
}

/** What the sink said of one event of a request. */
export type EventVerdict = { accepted: true } | { accepted: false; reason: string };

/**
 * Reads the per-event outcome of a batch request from its answer. The forms accepted:
 *
 * - a 2xx or a 400, body `{"rejected": [{"index": 3, "reason": "…"}, …]}` (or `errors`, as
 *   Segment words it, or `failed_records` with `message`, as Mixpanel's /import does): the events
 *   named are rejected, the others were accepted (a partial success); a 400 that names none
 *   rejects them all;
 * - 2xx, body `{"results": [{"status": 200}, {"status": 400, "error": "…"}, …]}` (or a bare array
 *   of such entries): one entry per event, by index; an entry whose status is not 2xx (or is
 *   `"rejected"`/`"error"`) is rejected with its error;
 * - any other 2xx: every event accepted;
 * - any other status (4xx other than 408/413/429, after the retries): every event rejected.
 *
 * An answer in one of these forms that cannot be matched to the request's events (an entry
 * without a whole-number index, an index outside the request, a result list of another length)
 * rejects every event with the reason: an event is counted delivered only when the answer says
 * so, and a rejected one is dead-lettered, not lost.
 *
 * Returns one verdict per event, in request order.
 */
export function readVerdicts(status: number, body: string, count: number): EventVerdict[] {
  const ok = status >= 200 && status < 300;
  const parsed = parseJson(body);
  const all = (reason: string): EventVerdict[] =>
    Array.from({ length: count }, () => ({ accepted: false, reason }));
  const answer = `HTTP ${status} ${body.slice(0, 200)}`.trim();
  const named = rejectedIndexes(parsed, count);
  if (named !== undefined && (ok || status === 400)) {
    if (typeof named === 'string') return all(`${answer} (unreadable rejections: ${named})`);
    if (!ok && named.size === 0) return all(answer);
    return Array.from({ length: count }, (_, index) => {
      const reason = named.get(index);
      return reason === undefined ? { accepted: true } : { accepted: false, reason };
    });
  }
  const results = Array.isArray(parsed)
    ? parsed
    : (parsed as { results?: unknown } | undefined)?.results;
  if (ok && Array.isArray(results)) {
    if (results.length === count) return results.map(verdictOf);
    return all(`${answer} (${results.length} results for ${count} events)`);
  }
  if (ok) return Array.from({ length: count }, () => ({ accepted: true }));
  return all(answer);
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/**
 * The events an answer names as rejected, by index; undefined when it names none in any form
 * read here; a string saying why when its list cannot be matched to the request's events.
 */
function rejectedIndexes(parsed: unknown, count: number): Map<number, string> | string | undefined {
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const lists = parsed as { rejected?: unknown; errors?: unknown; failed_records?: unknown };
  const list = [lists.rejected, lists.errors, lists.failed_records].find(Array.isArray);
  if (!list) return undefined;
  const named = new Map<number, string>();
  for (const [position, entry] of list.entries()) {
    const { index, reason, error, message } = (entry ?? {}) as Record<string, unknown>;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count) {
      return `entry ${position} names no event of the ${count} sent (index ${JSON.stringify(index)})`;
    }
    named.set(index, String(reason ?? error ?? message ?? 'rejected by the sink'));
  }
  return named;
}

function verdictOf(entry: unknown): EventVerdict {
  const { status: own, error, reason } = (entry ?? {}) as Record<string, unknown>;
  const refused =
    (typeof own === 'number' && (own < 200 || own >= 300)) || own === 'rejected' || own === 'error';
  if (!refused) return { accepted: true };
  return { accepted: false, reason: String(error ?? reason ?? `event status ${String(own)}`) };
}
