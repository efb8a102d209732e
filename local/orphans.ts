import { missingSides } from '../shared/domain/merge.ts';
import type { PendingListing } from '../shared/ports.ts';
import type { JoinDefinition } from '../shared/sources/join.ts';

/** How long ago, for people: 850ms, 12s, 4m 3s, 2h 5m, 3d 1h. */
export function ageText(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1_000);
  if (s < 60) return `${s}s`;
  if (s < 3_600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)}h ${Math.floor((s % 3_600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3_600)}h`;
}

/** One line per pending id: its age, the sides it holds and the ones it lacks. */
export function pendingLines(
  join: Pick<JoinDefinition, 'required'>,
  ids: readonly PendingListing[],
  now: number,
): string[] {
  return ids.map(
    (entry) =>
      `  id ${entry.id}: waiting ${ageText(now - entry.firstSeenMs)}, has ${entry.sides.join(', ') || 'nothing (expired)'}, missing ${missingSides(join, entry.sides).join(', ')}${entry.emitted ? ' (emitted with nulls)' : ''}`,
  );
}

/** The end-of-run report on the orphans: how many ids still miss a side, the oldest few. */
export async function orphanReport(pipeline: {
  join: JoinDefinition;
  pending(limit: number): Promise<{
    stats: { pending: number; oldestFirstSeenMs: number | null };
    ids: PendingListing[];
  }>;
}): Promise<string> {
  const { join } = pipeline;
  const { stats, ids } = await pipeline.pending(10);
  const now = Date.now();
  const policy =
    join.missing.policy === 'wait'
      ? 'wait'
      : `${join.missing.policy} after ${ageText(join.missing.afterMs)}`;
  if (stats.pending === 0) return `Ids still missing a side (join ${join.name}, ${policy}): none.`;
  return [
    `Ids still missing a side (join ${join.name}, ${policy}): ${stats.pending}, the oldest waiting ${ageText(now - (stats.oldestFirstSeenMs ?? now))}${stats.pending > ids.length ? `; the ${ids.length} oldest:` : ':'}`,
    ...pendingLines(join, ids, now),
  ].join('\n');
}
