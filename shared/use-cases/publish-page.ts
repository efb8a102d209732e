import { checkRecord, sizeProblem } from '../domain/records.ts';
import type { Log } from '../logger.ts';
import type { OutboundMessage, Publisher, QuarantineEntry, QuarantineSink } from '../ports.ts';
import { applyContract, declaredNames, FieldSightings } from '../sources/contract.ts';
import type { SourceDefinition } from '../sources/definition.ts';

export type PagePublishDeps = {
  source: SourceDefinition;
  topic: string;
  publisher: Publisher;
  quarantine: QuarantineSink;
  log: Log;
  correlationId: string;
  maxRecordBytes: number;
  /**
   * The fields already seen per source, so a new one is reported once. The fetch runtime keeps
   * one per container; without it, each page starts afresh.
   */
  sightings?: FieldSightings | undefined;
};

export type PageOutcome = {
  fetched: number;
  published: number;
  quarantined: number;
  /** Records older than the run's threshold, not published again. */
  unchanged: number;
  /** The highest change value published, or null. */
  maxChange: number | null;
  /** Undeclared fields seen for the first time (evolve), in the order met. */
  newFields: string[];
  /** Values removed from published records by the discard_value contract. */
  discardedValues: number;
};

/**
 * Checks each record of a page (size, then object, id, required fields, change value, then the
 * source's schema contract) and publishes the good ones, keyed by id: the message value is the
 * record exactly as the source sent it (under discard_value, less the discarded values). Bad ones
 * go to quarantine with the reason. Records whose change value is below `threshold` are counted
 * and skipped. Undeclared fields met for the first time are logged (`new field seen`) and listed
 * in `newFields`. Resolves once every message is acknowledged.
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
    newFields: [],
    discardedValues: 0,
  };
  const sightings = deps.sightings ?? new FieldSightings();
  const declared = declaredNames(source);
  const valid: OutboundMessage[] = [];
  const invalid: QuarantineEntry[] = [];
  for (const item of items) {
    const raw = JSON.stringify(item) ?? 'undefined';
    const tooBig = sizeProblem(Buffer.byteLength(raw), deps.maxRecordBytes);
    const checked = tooBig ? { ok: false as const, reason: tooBig } : checkRecord(source, item);
    const reject = (reason: string, id: string | undefined, level: 'warn' | 'error' = 'warn') => {
      invalid.push({
        stage: 'fetch',
        source: source.name,
        reason,
        raw,
        correlationId,
        ...(id !== undefined && { id }),
      });
      deps.log[level]('record quarantined', { source: source.name, page, id, reason });
    };
    if (!checked.ok) {
      reject(checked.reason, 'id' in checked ? checked.id : undefined);
      continue;
    }
    if (threshold !== null && checked.change !== null && checked.change < threshold) {
      outcome.unchanged++;
      continue;
    }
    const contract = applyContract(source, checked.record, declared);
    if (!contract.ok) {
      // freeze means drift must stop: an error a person is paged for; discard_row expects it.
      reject(contract.reason, checked.id, source.contract === 'freeze' ? 'error' : 'warn');
      continue;
    }
    reportSightings(contract, checked.id, page, sightings, outcome, deps);
    if (checked.change !== null) {
      outcome.maxChange = Math.max(outcome.maxChange ?? checked.change, checked.change);
    }
    valid.push({
      key: checked.id,
      value: contract.record === item ? raw : JSON.stringify(contract.record),
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

/**
 * Under evolve, logs each undeclared field the first time it is seen (so drift is seen, never
 * silent); under discard_value, counts the removed values and logs each field's first removal.
 */
function reportSightings(
  contract: { undeclared: string[]; discarded: string[] },
  id: string,
  page: number,
  sightings: FieldSightings,
  outcome: PageOutcome,
  deps: PagePublishDeps,
): void {
  const { source } = deps;
  if (source.contract === 'evolve') {
    for (const field of sightings.firstSightings(source.name, contract.undeclared)) {
      outcome.newFields.push(field);
      deps.log.warn('new field seen', { source: source.name, field, id, page, contract: 'evolve' });
    }
  } else if (contract.discarded.length > 0) {
    outcome.discardedValues += contract.discarded.length;
    for (const field of sightings.firstSightings(source.name, contract.discarded)) {
      deps.log.warn('undeclared value discarded', {
        source: source.name,
        field,
        id,
        page,
        contract: source.contract,
      });
    }
  }
}
