/**
 * Incremental sync, pure: the value a run asks the source for, and the cursor after a run.
 * Timestamps are kept as milliseconds since the epoch, numbers as themselves.
 */

export type ChangeRule = { kind: 'timestamp' | 'number'; overlap: number };

/**
 * The threshold a run starts from: the saved cursor less the overlap window (seconds for
 * timestamps, units for numbers), so records written at the boundary are read again rather
 * than missed. De-duplication downstream absorbs what is read twice.
 */
export function sinceThreshold(rule: ChangeRule, cursor: number): number {
  return rule.kind === 'timestamp' ? cursor - rule.overlap * 1000 : cursor - rule.overlap;
}

/** The threshold as the source's query parameter: ISO-8601 for timestamps, decimal for numbers. */
export function formatSince(rule: ChangeRule, threshold: number): string {
  return rule.kind === 'timestamp' ? new Date(threshold).toISOString() : String(threshold);
}

/** The cursor after a complete run: never moves backwards, unchanged when nothing had a value. */
export function nextCursor(previous: number | null, highestSeen: number | null): number | null {
  if (highestSeen === null) return previous;
  return previous === null ? highestSeen : Math.max(previous, highestSeen);
}
