import type { RedriveSummary } from '../../shared/use-cases/redrive-batches.ts';

/** One line for the operator: what was re-driven, and what is left for the next run. */
export function summaryLine(summary: RedriveSummary): string {
  return [
    `records ${summary.records}`,
    `delivered ${summary.posted}`,
    `already delivered ${summary.duplicates}`,
    `dead-lettered ${summary.deadLettered}`,
    `quarantined ${summary.quarantined}`,
    `waiting for their other side ${summary.waiting}`,
    `left on the failed topics ${summary.remaining}`,
  ].join('  ');
}
