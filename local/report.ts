import type { LocalPipeline } from './pipeline.ts';
import { table } from './terminal.ts';

export type DeliveryCheck = {
  ok: boolean;
  expected: number;
  deliveredOnce: number;
  /** Distinct payloads Analytics received more than once. */
  duplicates: number;
  missing: string[];
};

/** Checks what Analytics received against what the mock sources hold right now. */
export function verifyDelivery(
  pipeline: Pick<LocalPipeline, 'idsInBoth' | 'analytics'>,
): DeliveryCheck {
  const expected = pipeline.idsInBoth();
  const duplicates = [...pipeline.analytics.countsByPayload().values()].filter((n) => n > 1).length;
  const byId = pipeline.analytics.countsById();
  const missing = [...expected].filter((id) => !byId.has(id));
  const deliveredOnce = [...expected].filter((id) => byId.get(id) === 1).length;
  return {
    ok: duplicates === 0 && missing.length === 0,
    expected: expected.size,
    deliveredOnce,
    duplicates,
    missing,
  };
}

/** The end-of-run report: one row per stage, then the delivery check. */
export function summarize(pipeline: LocalPipeline, cycles: number): string {
  const { fetch, merge } = pipeline.totals;
  const rows: (string | number)[][] = [];
  for (const [name, f] of Object.entries(fetch)) {
    rows.push([
      `fetch ${name}`,
      `${f.runs} run(s)${f.failures ? `, ${f.failures} failed` : ''}`,
      f.fetched,
      f.published,
      f.retries,
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
    merge.quarantined,
    merge.deadLettered,
    merge.duplicates,
  ]);
  const analytics = pipeline.analytics;
  rows.push([
    'analytics mock',
    `${analytics.received.length + analytics.rejected} request(s)`,
    analytics.received.length + analytics.rejected,
    analytics.received.length,
    '-',
    '-',
    '-',
    '-',
  ]);
  const check = verifyDelivery(pipeline);
  const verdict = check.ok
    ? `OK: all ${check.expected} ids present in every required source were delivered exactly once (no duplicates).`
    : `FAILED: ${check.missing.length} id(s) never delivered${check.missing.length ? ` (${check.missing.slice(0, 10).join(', ')})` : ''}, ${check.duplicates} payload(s) delivered more than once.`;
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
        'quarantined',
        'dead-lettered',
        'duplicates skipped',
      ],
      rows,
    ),
    '',
    verdict,
  ].join('\n');
}
