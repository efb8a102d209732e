import { type MergedPayload, payloadHash } from '../domain/merge.ts';
import { AnalyticsDeliveryError } from '../errors.ts';
import type { Log } from '../logger.ts';
import type { OnceDelivery } from '../ports.ts';

export type ReplaySummary = { letters: number; posted: number; duplicates: number; failed: number };

/**
 * Re-delivers dead letters through the same idempotent delivery as the merge step: a payload
 * that reached Analytics meanwhile is skipped, one that fails again stays where it was.
 * Returns the ids of the letters that must stay (SQS partial batch response).
 */
export async function replayLetters(
  letters: { id: string; body: string }[],
  delivery: Pick<OnceDelivery, 'deliver'>,
  log: Log,
): Promise<{ summary: ReplaySummary; failedIds: string[] }> {
  const summary: ReplaySummary = { letters: letters.length, posted: 0, duplicates: 0, failed: 0 };
  const failedIds: string[] = [];
  for (const letter of letters) {
    let payload: MergedPayload;
    try {
      payload = (JSON.parse(letter.body) as { payload: MergedPayload }).payload;
      if (typeof payload?.id !== 'string') throw new Error('dead letter has no payload with an id');
    } catch (error) {
      log.error('dead letter unreadable; left in place', {
        letterId: letter.id,
        reason: (error as Error).message,
      });
      summary.failed++;
      failedIds.push(letter.id);
      continue;
    }
    const hash = payloadHash(payload);
    try {
      const outcome = await delivery.deliver(payload, hash);
      summary[outcome === 'posted' ? 'posted' : 'duplicates']++;
      log.info('dead letter replayed', { id: payload.id, hash, outcome });
    } catch (error) {
      if (!(error instanceof AnalyticsDeliveryError)) throw error;
      log.warn('dead letter still refused; left in place', {
        id: payload.id,
        hash,
        reason: error.message,
      });
      summary.failed++;
      failedIds.push(letter.id);
    }
  }
  return { summary, failedIds };
}
