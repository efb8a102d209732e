import { checkRecord, sizeProblem } from '../domain/records.ts';
import type { Log } from '../logger.ts';
import type { OutboundMessage, Publisher, QuarantineEntry, QuarantineSink } from '../ports.ts';
import type { SourceDefinition } from '../sources/definition.ts';

export type PagePublishDeps = {
  source: SourceDefinition;
  topic: string;
  publisher: Publisher;
  quarantine: QuarantineSink;
  log: Log;
  correlationId: string;
  maxRecordBytes: number;
};

export type PageOutcome = {
  fetched: number;
  published: number;
  quarantined: number;
  /** Records older than the run's threshold, not published again. */
  unchanged: number;
  /** The highest change value published, or null. */
  maxChange: number | null;
};

/**
 * Checks each record of a page (size, then object, id, required fields, change value) and
 * publishes the good ones whole, keyed by id: the message value is the record exactly as the
 * source sent it. Bad ones go to quarantine with the reason. Records whose change value is
 * below `threshold` are counted and skipped. Resolves once every message is acknowledged.
 */
export async function publishPage(
  items: readonly unknown[],
  page: number,
  fetchedAt: string,
  threshold: number | null,
  deps: PagePublishDeps,
): Promise<PageOutcome> {
  const { source, correlationId } = deps;
  const outcome: PageOutcome = {
    fetched: items.length,
    published: 0,
    quarantined: 0,
    unchanged: 0,
    maxChange: null,
  };
  const valid: OutboundMessage[] = [];
  const invalid: QuarantineEntry[] = [];
  for (const item of items) {
    const raw = JSON.stringify(item) ?? 'undefined';
    const tooBig = sizeProblem(Buffer.byteLength(raw), deps.maxRecordBytes);
    const checked = tooBig ? { ok: false as const, reason: tooBig } : checkRecord(source, item);
    if (!checked.ok) {
      const id = 'id' in checked ? checked.id : undefined;
      invalid.push({
        stage: 'fetch',
        source: source.name,
        reason: checked.reason,
        raw,
        correlationId,
        ...(id !== undefined && { id }),
      });
      deps.log.warn('record quarantined', {
        source: source.name,
        page,
        id,
        reason: checked.reason,
      });
      continue;
    }
    if (threshold !== null && checked.change !== null && checked.change < threshold) {
      outcome.unchanged++;
      continue;
    }
    if (checked.change !== null) {
      outcome.maxChange = Math.max(outcome.maxChange ?? checked.change, checked.change);
    }
    valid.push({
      key: checked.id,
      value: raw,
      headers: { 'correlation-id': correlationId, 'fetched-at': fetchedAt, source: source.name },
    });
  }
  await Promise.all([
    deps.publisher.publish(deps.topic, valid),
    invalid.length > 0 ? deps.quarantine.quarantine(invalid) : Promise.resolve(),
  ]);
  outcome.published = valid.length;
  outcome.quarantined = invalid.length;
  for (const message of valid) {
    deps.log.info('record published', { id: message.key, topic: deps.topic, page });
  }
  deps.log.info('page published', {
    source: source.name,
    page,
    published: valid.length,
    quarantined: invalid.length,
    unchanged: outcome.unchanged,
  });
  return outcome;
}
