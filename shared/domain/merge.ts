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
 * The join state of one id after an upsert: the sides known, by side name, and whether the
 * missing-side policy already emitted the id (from then on every change is delivered).
 */
export type JoinState = { sides: Record<string, SourceRecord>; emitted: boolean };

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
 * Keeps, for each id, the last join state seen in batch order, so that an id repeated in one
 * batch yields one payload: the latest.
 */
export function collapseById<T extends { id: string }>(items: readonly T[]): T[] {
  const latest = new Map<string, T>();
  for (const item of items) {
    latest.delete(item.id);
    latest.set(item.id, item);
  }
  return [...latest.values()];
}

/** JSON with object keys sorted at every depth, so equal payloads give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    // Stryker disable next-line MethodExpression,ConditionalExpression: JSON.stringify leaves undefined fields out anyway
    const defined = entries.filter(([, v]) => v !== undefined);
    // Keys of one object are distinct: a !== b, so no comparison answers 0.
    // Stryker disable next-line EqualityOperator: with distinct keys, a <= b is a < b
    defined.sort(([a], [b]) => (a < b ? -1 : 1));
    return Object.fromEntries(defined.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

/** SHA-256 (hex) of the canonical JSON of a payload: its identity for de-duplication. */
export function payloadHash(payload: MergedPayload): string {
  return createHash('sha256').update(canonicalJson(payload)).digest('hex');
}
