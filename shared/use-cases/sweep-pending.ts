import { mapWithConcurrency } from '../concurrency.ts';
import { buildPayload, missingSides, payloadHash } from '../domain/merge.ts';
import { AnalyticsDeliveryError } from '../errors.ts';
import type { Log } from '../logger.ts';
import type { DeadLetter, DeadLetterSink, OnceDelivery, PendingIndex } from '../ports.ts';
import type { JoinDefinition } from '../sources/join.ts';

export type SweepDeps = {
  pending: PendingIndex;
  /** The merge's idempotent delivery: a payload the merge also builds goes out once. */
  delivery: Pick<OnceDelivery, 'deliver'>;
  deadLetter: DeadLetterSink;
  join: JoinDefinition;
  log: Log;
  now: () => number;
  /** Most due ids acted on in one sweep. */
  limit: number;
  concurrency: number;
};

export type SweepSummary = {
  join: string;
  policy: JoinDefinition['missing']['policy'];
  /** Ids whose grace period had passed. */
  due: number;
  /** Partial payloads delivered (emit), or already delivered by an earlier sweep. */
  emitted: number;
  duplicates: number;
  /** Halves forgotten (drop). */
  dropped: number;
  /** Ids that were complete or gone by the time the sweeper looked. */
  settled: number;
  deadLettered: number;
  /** Ids still missing a required side after the sweep, and the age of the oldest (ms). */
  pending: number;
  oldestAgeMs: number | null;
  durationMs: number;
};

/**
 * Applies the join's missing-side policy to the ids whose grace period has passed.
 *
 * 1. `wait`: nothing; only the pending count and the oldest age are read.
 * 2. `emit after d`: for each id first seen more than d ago and not emitted yet, read its state
 *    (atomically; a complete or expired id just leaves the index), deliver the payload with the
 *    missing required sides null through the idempotent delivery, then mark it emitted: from
 *    then on the merge delivers it on every change. A sweeper that dies between the two is
 *    repeated by the next sweep and the delivery sees the same payload as a duplicate.
 * 3. `drop after d`: forget each such half, atomically re-checked (a side that arrived
 *    meanwhile wins over the drop).
 * 4. Dead-letter what Analytics refused after its retries (it counts as emitted: replay
 *    delivers it). Throws when Redis or the dead-letter sink fail, so the next sweep redoes it.
 * 5. Whatever the policy, prune the index of ids whose join state expired (JOIN_TTL_SECONDS)
 *    or completed, up to `limit` looked at per sweep, before counting: an id that waited out
 *    its state's lifetime leaves the pending count and the oldest age instead of holding the
 *    OldestPending alarm forever.
 */
export async function sweepPending(deps: SweepDeps): Promise<SweepSummary> {
  const started = deps.now();
  const { missing } = deps.join;
  const summary: SweepSummary = {
    join: deps.join.name,
    policy: missing.policy,
    due: 0,
    emitted: 0,
    duplicates: 0,
    dropped: 0,
    settled: 0,
    deadLettered: 0,
    pending: 0,
    oldestAgeMs: null,
    durationMs: 0,
  };
  if (missing.policy !== 'wait') {
    const cutoff = started - missing.afterMs;
    const due = await deps.pending.due(cutoff, deps.limit);
    summary.due = due.length;
    const letters: DeadLetter[] = [];
    const lettered: string[] = [];
    await mapWithConcurrency(due, deps.concurrency, async ({ id }) => {
      if (missing.policy === 'drop') {
        if (await deps.pending.drop(id, cutoff)) {
          summary.dropped++;
          deps.log.info('pending id dropped', { id, join: deps.join.name });
        } else summary.settled++;
        return;
      }
      const look = await deps.pending.look(id);
      if (look.status !== 'pending') {
        summary.settled++;
        return;
      }
      const payload = buildPayload(deps.join, id, look.state, true) ?? {};
      const hash = payloadHash(payload);
      const context = {
        id,
        hash,
        join: deps.join.name,
        missing: missingSides(deps.join, Object.keys(look.state.sides)),
      };
      try {
        const outcome = await deps.delivery.deliver(payload, hash);
        if (outcome === 'posted') {
          summary.emitted++;
          deps.log.info('partial payload delivered', context);
        } else summary.duplicates++;
      } catch (error) {
        if (!(error instanceof AnalyticsDeliveryError)) throw error;
        deps.log.error('payload dead-lettered', { ...context, reason: error.message });
        letters.push({
          payload,
          hash,
          reason: error.message,
          attempts: error.attempts,
          failedAt: new Date(deps.now()).toISOString(),
        });
        lettered.push(id);
        return;
      }
      await deps.pending.markEmitted(id);
    });
    if (letters.length > 0) {
      await deps.deadLetter.send(letters);
      // Only once the letters are stored: else the next sweep must try them again.
      for (const id of lettered) await deps.pending.markEmitted(id);
    }
    summary.deadLettered = letters.length;
  }
  const pruned = await deps.pending.prune(deps.limit);
  if (pruned > 0) {
    summary.settled += pruned;
    deps.log.info('expired or complete ids left the pending index', {
      join: deps.join.name,
      pruned,
    });
  }
  const stats = await deps.pending.stats();
  summary.pending = stats.pending;
  summary.oldestAgeMs =
    stats.oldestFirstSeenMs === null ? null : Math.max(0, deps.now() - stats.oldestFirstSeenMs);
  summary.durationMs = deps.now() - started;
  return summary;
}
