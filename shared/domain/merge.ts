import { createHash } from 'node:crypto';
import type { Side, SourceRecord } from './records.ts';

/**
 * The payload the Analytics API receives: one customer and its product, joined on id, each the
 * record exactly as its source sent it.
 */
export type MergedPayload = { id: string; customer: SourceRecord; inventory: SourceRecord };

/** One side of the join as it is stored: the record plus the version that orders updates. */
export type StoredSide<T> = { record: T; version: number };

/** The join state of one id after an upsert: whichever sides are known. */
export type JoinState = { customer?: SourceRecord; inventory?: SourceRecord };

/**
 * The version of a record for "newer wins": its change value when the source sets one (ms for
 * timestamps), else the time it was fetched (ms since the epoch).
 */
export function recordVersion(change: number | null, fetchedAtMs: number): number {
  return change ?? fetchedAtMs;
}

/** Builds the merged payload when both sides are present, else undefined. */
export function buildMergedPayload(id: string, state: JoinState): MergedPayload | undefined {
  if (state.customer === undefined || state.inventory === undefined) return undefined;
  return { id, customer: state.customer, inventory: state.inventory };
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
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

/** SHA-256 (hex) of the canonical JSON of a payload: its identity for de-duplication. */
export function payloadHash(payload: MergedPayload): string {
  return createHash('sha256').update(canonicalJson(payload)).digest('hex');
}

export const SIDES: readonly Side[] = ['customer', 'inventory'];
