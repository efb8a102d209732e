import { createHash } from 'node:crypto';
import type { SourceRecord } from './records.ts';

/**
 * The payload the Analytics API receives: the records that share a key, one per side, each
 * exactly as its source sent it, under the side names the join declares; `id` (the join's key
 * field) with the keyed shape, absent with the original `{customer, inventory}` shape. A side
 * that has not arrived is null once the missing-side policy emitted the id.
 */
export type MergedPayload = { readonly id?: string; readonly [field: string]: unknown };

/**
 * Where a side's record came from: its Kafka topic, partition and offset, and the correlation id
 * of the fetch run that published it (the record's `correlation-id` header), when it had one.
 */
export type RecordOrigin = {
  topic: string;
  partition: number;
  offset: string;
  correlationId?: string;
};

/**
 * The join state of one id after an upsert: the sides known, by side name, and whether the
 * missing-side policy already emitted the id (from then on every change is delivered).
 * `origins` names, by side, where each stored side came from (present when any side has one).
 */
export type JoinState = {
  sides: Record<string, SourceRecord>;
  emitted: boolean;
  origins?: Record<string, RecordOrigin>;
};

/**
 * The origin as stored beside its side (a JSON array, about 60 bytes with a UUID correlation id):
 * `[topic, partition, offset]` or `[topic, partition, offset, correlationId]`.
 */
export function encodeOrigin(origin: RecordOrigin): string {
  const { topic, partition, offset, correlationId } = origin;
  return JSON.stringify(
    correlationId === undefined
      ? [topic, partition, offset]
      : [topic, partition, offset, correlationId],
  );
}

/** The origin of `encodeOrigin`'s text; undefined when the text is not one (never throws). */
export function decodeOrigin(text: string): RecordOrigin | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length < 3 || parsed.length > 4) return undefined;
  const [topic, partition, offset, correlationId] = parsed as unknown[];
  if (typeof topic !== 'string' || typeof partition !== 'number' || typeof offset !== 'string') {
    return undefined;
  }
  return {
    topic,
    partition,
    offset,
    ...(typeof correlationId === 'string' && { correlationId }),
  };
}

/** What the payload builder needs of a join declaration. */
export type PayloadShape = {
  key: string;
  sides: readonly string[];
  required: readonly string[];
  payload: 'keyed' | 'sides';
};

/**
 * The version of a record for "newer wins": its change value when the source sets one (ms for
 * timestamps), else the time it was fetched (ms since the epoch).
 */
export function recordVersion(change: number | null, fetchedAtMs: number): number {
  return change ?? fetchedAtMs;
}

/** Whether every required side of the join is present. */
function isComplete(shape: Pick<PayloadShape, 'required'>, state: JoinState): boolean {
  return shape.required.every((side) => state.sides[side] !== undefined);
}

/**
 * Builds the payload of an id: when every required side is present, or when the id was emitted
 * (`force`, or `state.emitted`), in which case missing required sides are null. Optional sides
 * appear when present. Undefined when the id must still wait.
 */
export function buildPayload(
  shape: PayloadShape,
  id: string,
  state: JoinState,
  force = false,
): MergedPayload | undefined {
  if (!force && !state.emitted && !isComplete(shape, state)) return undefined;
  const payload: Record<string, unknown> = shape.payload === 'keyed' ? { [shape.key]: id } : {};
  for (const side of shape.sides) {
    const record = state.sides[side];
    if (record !== undefined) payload[side] = record;
    else if (shape.required.includes(side)) payload[side] = null;
  }
  return payload;
}

/** The sides the join requires that the state lacks. */
export function missingSides(shape: Pick<PayloadShape, 'required'>, sides: Iterable<string>) {
  const present = new Set(sides);
  return shape.required.filter((side) => !present.has(side));
}

/** The default two-sided shape (`{id, customer, inventory}`), for callers with no join at hand. */
const TWO_SIDED: PayloadShape = {
  key: 'id',
  sides: ['customer', 'inventory'],
  required: ['customer', 'inventory'],
  payload: 'keyed',
};

/** Builds the default two-sided payload when both sides are present, else undefined. */
export function buildMergedPayload(
  id: string,
  sides: Record<string, SourceRecord>,
): MergedPayload | undefined {
  return buildPayload(TWO_SIDED, id, { sides, emitted: false });
}

/**
 * For each id, the position of its last appearance in batch order: an id repeated in one batch
 * yields one payload, from the join state after its last upsert (the latest).
 */
export function lastAppearances(ids: Iterable<string>): Map<string, number> {
  const last = new Map<string, number>();
  let index = 0;
  for (const id of ids) last.set(id, index++);
  return last;
}

/**
 * JSON with object keys sorted at every depth, so equal payloads give equal text. Keys are in
 * the order JSON.stringify gives an object built from the sorted keys: array-index keys ("0",
 * "12") first in numeric order, then the others by UTF-16 code units. Written straight to text
 * (no sorted copies of the objects): it runs once per payload on the merge's hot path.
 */
export function canonicalJson(value: unknown): string {
  return canonicalText(value);
}

function canonicalText(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // Strings, numbers and booleans as JSON writes them; undefined and functions as null (the
    // only place they reach here is an array slot, where JSON writes null).
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) {
    let text = '[';
    for (let index = 0; index < value.length; index++) {
      if (index > 0) text += ',';
      text += canonicalText(value[index]);
    }
    return `${text}]`;
  }
  const record = value as Record<string, unknown>;
  let text = '{';
  for (const key of canonicalKeys(record)) {
    const field = record[key];
    const type = typeof field;
    if (type === 'undefined' || type === 'function' || type === 'symbol') continue;
    if (text.length > 1) text += ',';
    text += `${quotedKey(key)}:${canonicalText(field)}`;
  }
  return `${text}}`;
}

/** An object's keys in canonical order: array-index keys by number, then the rest sorted. */
function canonicalKeys(record: Record<string, unknown>): string[] {
  const keys = Object.keys(record);
  // Insertion sort: objects here have a few keys, and it sorts in place without a work array.
  let indexKeys = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (isIndexKey(key)) indexKeys++;
    let at = i;
    while (at > 0 && (keys[at - 1] as string) > key) {
      keys[at] = keys[at - 1] as string;
      at--;
    }
    keys[at] = key;
  }
  if (indexKeys === 0) return keys;
  const indexes = keys.filter(isIndexKey).sort((a, b) => Number(a) - Number(b));
  return [...indexes, ...keys.filter((key) => !isIndexKey(key))];
}

/** A key an object keeps in index order: a canonical array index (0 to 2^32 - 2). */
function isIndexKey(key: string): boolean {
  const first = key.charCodeAt(0);
  if (first < 48 || first > 57) return false; // not a digit: the common case, no regex
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 4_294_967_295;
}

/** Field names repeat across payloads: their JSON form is kept (a bounded cache). */
const quotedKeys = new Map<string, string>();
function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < 10_000) quotedKeys.set(key, quoted);
  }
  return quoted;
}

/**
 * A payload's identity: the SHA-256 (hex) of its canonical JSON. The one function that names a
 * payload: the idempotency record's key is derived from it, and it is the Idempotency-Key
 * header (single mode), the event id (batch mode), the log `hash` and the dead letter's `hash`.
 */
export function payloadHash(payload: MergedPayload): string {
  return payloadIdentity(payload).hash;
}

/**
 * Identities already computed, by payload object: a payload is not changed once built (its type is
 * readonly), and the merge asks for one payload's identity twice (to deliver it, and for its
 * lineage line), so the second ask costs a lookup instead of a second canonical JSON and SHA-256.
 */
const identities = new WeakMap<MergedPayload, { hash: string; canonical: string }>();

/** The identity and the canonical JSON it is hashed from (which a batch event reuses). */
export function payloadIdentity(payload: MergedPayload): { hash: string; canonical: string } {
  const known = identities.get(payload);
  if (known) return known;
  const canonical = canonicalJson(payload);
  const identity = { hash: createHash('sha256').update(canonical).digest('hex'), canonical };
  identities.set(payload, identity);
  return identity;
}
