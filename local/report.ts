import { canonicalJson } from '../shared/domain/merge.ts';
import type { JoinDefinition } from '../shared/sources/join.ts';
import type { LocalDeployment } from './deployment.ts';
import { describeQuarantine, type QuarantineCount, readQuarantine } from './quarantine-tally.ts';
import { table } from './terminal.ts';

export type DeliveryCheck = {
  ok: boolean;
  expected: number;
  deliveredOnce: number;
  /** Receipts beyond the first of a payload (by content): 0 when nothing was processed twice. */
  duplicates: number;
  /** Ids present in every required source whose complete payload never arrived. */
  missing: string[];
  /**
   * Distinct partial payloads (a required side null: the emit-after policy), each a payload of
   * its own; the complete payload of the same id that follows is not a repeat of it.
   */
  partials: number;
  /** Payloads Analytics processed, and the distinct Idempotency-Keys among them. */
  processed: number;
  distinctKeys: number;
  /** Requests with a key processed before (answered with the first answer if the sink honours it). */
  repeatedKeys: number;
  /** POSTs the merge retried after a timeout or reset once sent. */
  ambiguousRetries: number;
  honoursKey: boolean;
  /** The Analytics API the user runs, when the pipeline posted to it through the recorder. */
  target: string | undefined;
  /** Records the sources sent (every fetch run added up), and those quarantined at fetch. */
  sent: number;
  quarantinedAtFetch: number;
  /** Quarantined at the merge (every batch added up). */
  quarantinedAtMerge: number;
  /** Sources whose every fetch run failed: none of their records reached the pipeline. */
  failedSources: string[];
  /** Sources sent records and Analytics processed none: never a success. */
  nothingDelivered: boolean;
  /** The quarantine topic per source and stage, when it was read. */
  quarantine?: QuarantineCount[];
};

/**
 * Checks what Analytics processed against what the mock sources hold right now. With a sink that
 * honours Idempotency-Key, nothing may be processed twice. With one that ignores it, a payload
 * whose POST failed ambiguously (timed out or reset after it was sent) may be processed again
 * by the retry: the check then accepts duplicates up to the ambiguous retries the merge counted.
 */
export async function verifyDelivery(
  pipeline: Pick<
    LocalDeployment,
    'idsInBoth' | 'analytics' | 'totals' | 'analyticsHonoursKey' | 'analyticsTarget'
  > & { join?: Pick<JoinDefinition, 'required'> },
  quarantine?: QuarantineCount[],
): Promise<DeliveryCheck> {
  const [expected, receipts, stats] = await Promise.all([
    pipeline.idsInBoth(),
    pipeline.analytics.receipts(),
    pipeline.analytics.stats(),
  ]);
  const required = pipeline.join?.required ?? [];
  const byPayload = new Map<string, number>();
  /** Receipts of each id's complete payloads (every required side present). */
  const byId = new Map<string, number>();
  const partials = new Set<string>();
  for (const entry of receipts) {
    const content = canonicalJson(entry.body);
    byPayload.set(content, (byPayload.get(content) ?? 0) + 1);
    if (isPartial(entry.body, required)) partials.add(content);
    else byId.set(entry.id, (byId.get(entry.id) ?? 0) + 1);
  }
  // By content: the same payload twice is a duplicate, a partial and its complete payload are not.
  const duplicates = [...byPayload.values()].reduce((sum, n) => sum + n - 1, 0);
  const missing = [...expected].filter((id) => !byId.has(id));
  const ambiguousRetries = pipeline.totals.merge.ambiguousRetries;
  const honoursKey = pipeline.analyticsHonoursKey;
  const explained = duplicates === 0 || (!honoursKey && duplicates <= ambiguousRetries);
  const fetches = Object.values(pipeline.totals.fetch ?? {});
  const sent = fetches.reduce((sum, f) => sum + f.fetched, 0);
  const failedSources = Object.entries(pipeline.totals.fetch ?? {})
    .filter(([, f]) => f.runs > 0 && f.failures === f.runs)
    .map(([name]) => name);
  const nothingDelivered = sent > 0 && stats.received === 0;
  return {
    ok: explained && missing.length === 0 && !nothingDelivered && failedSources.length === 0,
    expected: expected.size,
    deliveredOnce: [...expected].filter((id) => byId.get(id) === 1).length,
    duplicates,
    missing,
    partials: partials.size,
    processed: stats.received,
    distinctKeys: stats.distinctKeys,
    repeatedKeys: stats.repeatedKeys,
    ambiguousRetries,
    honoursKey,
    target: pipeline.analyticsTarget,
    sent,
    quarantinedAtFetch: fetches.reduce((sum, f) => sum + f.quarantined, 0),
    quarantinedAtMerge: pipeline.totals.merge.quarantined ?? 0,
    failedSources,
    nothingDelivered,
    ...(quarantine && { quarantine }),
  };
}

/** A payload the sweeper delivered before every required side came: one of them is null. */
function isPartial(body: unknown, required: readonly string[]): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const sides = body as Record<string, unknown>;
  return required.some((side) => sides[side] === null || sides[side] === undefined);
}

/**
 * The verdict of a delivery check: one line, followed by what was quarantined when anything was
 * (records that never reach Analytics, so never in the exactly-once count).
 */
export function verdictOf(check: DeliveryCheck): string {
  const quarantined = quarantineLine(check);
  return quarantined ? `${deliveryVerdict(check)}\n${quarantined}` : deliveryVerdict(check);
}

function deliveryVerdict(check: DeliveryCheck): string {
  if (check.nothingDelivered) {
    return `FAILED: nothing was delivered although the sources sent ${check.sent} record(s): ${whyNothing(check)}.`;
  }
  if (check.failedSources.length > 0) {
    return `FAILED: every fetch run of ${check.failedSources.join(', ')} failed, so ${check.failedSources.length > 1 ? 'their' : 'its'} records never reached the pipeline (the errors are above and in the log).`;
  }
  // Of a server the user runs, only its 2xx answers are seen: a repeated key it accepted is
  // counted as processed again, whatever it did with it.
  const ignores = check.target
    ? `${check.target} accepted them again (whether it processed them twice is up to it)`
    : 'this sink ignores Idempotency-Key (a sink that honours it receives each once)';
  const missing = `${check.missing.length} id(s) never delivered${check.missing.length ? ` (${check.missing.slice(0, 10).join(', ')})` : ''}`;
  if (!check.ok) {
    return `FAILED: ${missing}, ${check.duplicates} extra receipt(s) of payloads delivered more than once (${check.ambiguousRetries} ambiguous retries; the sink ${check.honoursKey ? 'honours' : 'ignores'} Idempotency-Key).`;
  }
  if (check.duplicates > 0) {
    return `OK at this sink: all ${check.expected} ids delivered; ${check.duplicates} payload(s) processed twice, all after one of the ${check.ambiguousRetries} ambiguous retries, because ${ignores}.`;
  }
  const partials =
    check.partials > 0
      ? ` ${check.partials} distinct partial payload(s) (a required side null: emit after) were delivered as well, each once.`
      : '';
  return `OK: all ${check.expected} ids present in every required source were delivered exactly once (no duplicates).${partials}`;
}

/** Why a run that was sent records delivered none: the first cause that explains it. */
function whyNothing(check: DeliveryCheck): string {
  // The first reason of each source and stage: the rest are in the Quarantined line below.
  const reasons = check.quarantine?.flatMap((count) => count.reasons.slice(0, 1)) ?? [];
  const first =
    reasons.length > 0
      ? ` (first reasons: ${reasons
          .slice(0, 3)
          .map((r) => JSON.stringify(r))
          .join('; ')})`
      : '';
  if (check.quarantinedAtFetch >= check.sent) {
    return `every one was quarantined at fetch${first}`;
  }
  if (check.quarantinedAtFetch + check.quarantinedAtMerge > 0 && check.expected === 0) {
    return `${check.quarantinedAtFetch + check.quarantinedAtMerge} were quarantined and no id is in every required source${first}`;
  }
  if (check.expected === 0)
    return 'no id is present in every required source, so nothing could be joined';
  if (check.failedSources.length > 0)
    return `every fetch run of ${check.failedSources.join(', ')} failed`;
  return `${check.missing.length} id(s) were joined but never delivered (see dead-lettered above)`;
}

/** `Quarantined: 8 record(s), not in the exactly-once count: crm at fetch: 8 (first: …)`. */
function quarantineLine(check: DeliveryCheck): string | undefined {
  const total = check.quarantinedAtFetch + check.quarantinedAtMerge;
  const counted = check.quarantine?.reduce((sum, count) => sum + count.count, 0) ?? 0;
  if (total === 0 && counted === 0) return undefined;
  const where =
    check.quarantine && check.quarantine.length > 0
      ? describeQuarantine(check.quarantine)
      : `${check.quarantinedAtFetch} at fetch, ${check.quarantinedAtMerge} at merge`;
  return `Quarantined: ${Math.max(total, counted)} record(s), never delivered and not in that count: ${where}.`;
}

/**
 * The end-of-run report: one row per stage, what Analytics saw, then the delivery check and what
 * the quarantine topic holds per source and stage (`sourceOfTopic` names the source of a merge
 * entry's topic).
 */
export async function summarize(
  pipeline: LocalDeployment,
  cycles: number,
  sourceOfTopic: (topic: string) => string | undefined = () => undefined,
): Promise<string> {
  const { fetch, merge } = pipeline.totals;
  const stats = await pipeline.analytics.stats();
  const rows: (string | number)[][] = [];
  for (const [name, f] of Object.entries(fetch)) {
    rows.push([
      `fetch ${name}`,
      `${f.runs} run(s)${f.failures ? `, ${f.failures} failed` : ''}`,
      f.fetched,
      f.published,
      f.retries,
      '-',
      f.quarantined,
      '-',
      '-',
    ]);
  }
  rows.push([
    'merge',
    `${merge.batches} batch(es)${merge.failedInvocations ? `, ${merge.failedInvocations} retried` : ''}`,
    merge.records,
    merge.posted,
    '-',
    merge.ambiguousRetries,
    merge.quarantined,
    merge.deadLettered,
    merge.duplicates,
  ]);
  rows.push([
    pipeline.analyticsTarget ? 'analytics (recorded)' : 'analytics mock',
    `${stats.requests} request(s)`,
    stats.requests,
    stats.received,
    '-',
    '-',
    '-',
    '-',
    pipeline.analyticsHonoursKey ? stats.repeatedKeys : '-',
  ]);
  let unread = '';
  const quarantine = await readQuarantine(
    pipeline.kafka,
    pipeline.topics.quarantine,
    sourceOfTopic,
  ).catch((error: Error) => {
    unread = `The quarantine topic could not be read: ${error.message}`;
    return undefined;
  });
  const check = await verifyDelivery(pipeline, quarantine);
  return [
    '',
    `Summary after ${cycles || 'the'} cycle(s)`,
    table(
      [
        'stage',
        'runs',
        'in',
        'out',
        'retries',
        'ambiguous retries',
        'quarantined',
        'dead-lettered',
        'duplicates skipped',
      ],
      rows,
    ),
    '',
    check.target
      ? `${check.target} accepted ${check.processed} payload(s) under ${check.distinctKeys} distinct payload identities; ${check.repeatedKeys} accepted request(s) repeated a key.`
      : `Analytics processed ${check.processed} payload(s) under ${check.distinctKeys} distinct payload identities (Idempotency-Key or event id); ${check.repeatedKeys} request(s) repeated a key and ${check.honoursKey ? 'got the first answer without being processed again' : 'were processed again (the sink ignores the key)'}.`,
    verdictOf(check),
    ...(merge.dropped > 0
      ? [
          `DROPPED: ${merge.dropped} record(s) ran out of batch retries and the failed_<topic> topic did not take them (DroppedEventCount on AWS); they are still on their source topics: a full re-sync (--full; on AWS, invoke the fetch functions with {"full": true}) delivers them.`,
        ]
      : []),
    ...(unread ? [unread] : []),
  ].join('\n');
}
