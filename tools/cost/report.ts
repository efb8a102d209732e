import { type Capacity, cacheKeyCapacity, capacities, fixedLimitProblems } from './capacity.ts';
import { estimateIdle, type IdleEstimate } from './idle.ts';
import type { PriceBook } from './price-book.ts';
import type { CfnTemplate } from './template.ts';
import {
  estimateVariable,
  readShape,
  type Shape,
  type VariableLine,
  type Workload,
} from './variable.ts';

/** The profiles `npm run cost` synthesizes, in the order it prints them. */
export const PROFILES = ['small', 'standard'] as const;

/** The record rates of the table: the seed's 10k an hour, then two orders of magnitude each. */
export const TABLE_RATES = [10_000, 1_000_000, 100_000_000] as const;

export type RateRow = {
  recordsPerHour: number;
  variable: VariableLine[];
  total: number;
  exceeded: Capacity[];
};

/** Everything `npm run cost` prints for one template. */
export type ProfileEstimate = {
  profile: string;
  region: string;
  listPricesOf: string;
  idle: IdleEstimate;
  shape: Shape;
  capacities: Capacity[];
  problems: string[];
  rows: RateRow[];
  newEnvironmentsPerSecond: number | undefined;
  cacheKeys: number | undefined;
};

export function estimateProfile(
  profile: string,
  template: CfnTemplate,
  prices: PriceBook,
  work: Workload,
  rates: readonly number[] = TABLE_RATES,
): ProfileEstimate {
  const idle = estimateIdle(template, prices);
  const shape = readShape(template, prices);
  const caps = capacities(shape, work, prices);
  const rows = rates.map((recordsPerHour) => {
    const variable = estimateVariable(shape, work, recordsPerHour, prices);
    return {
      recordsPerHour,
      variable,
      total: idle.total + variable.reduce((sum, l) => sum + l.monthly, 0),
      exceeded: caps.filter((c) => recordsPerHour > c.maxRecordsPerHour),
    };
  });
  const t3 = shape.kafka.kind === 'provisioned' && shape.kafka.instanceType.startsWith('kafka.t3.');
  return {
    profile,
    region: prices.region,
    listPricesOf: prices.data.listPricesOf,
    idle,
    shape,
    capacities: caps,
    problems: fixedLimitProblems(shape, prices),
    rows,
    cacheKeys: cacheKeyCapacity(shape, prices),
    newEnvironmentsPerSecond:
      t3 && shape.kafka.kind === 'provisioned'
        ? (prices.limit('msk.t3.iamConnectionsPerSecondPerBroker') * shape.kafka.brokers) /
          prices.limit('kafkaConnectionsPerClient')
        : undefined,
  };
}

const usd = (n: number): string =>
  `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const count = (n: number): string =>
  n >= 1e6 ? `${+(n / 1e6).toPrecision(3)}M` : n >= 1e3 ? `${+(n / 1e3).toPrecision(3)}k` : `${n}`;

/** The one-line summary, e.g. `small: idle $93.40/month (us-east-1 list prices of 2026-12)`. */
export function summaryLine(e: ProfileEstimate): string {
  return `${e.profile}: idle ${usd(e.idle.total)}/month (${e.region} list prices of ${e.listPricesOf})`;
}

/** The record rate below which every capacity of the profile holds, or undefined if unbounded. */
export function ceiling(e: ProfileEstimate): Capacity | undefined {
  return [...e.capacities].sort((a, b) => a.maxRecordsPerHour - b.maxRecordsPerHour)[0];
}

type IdleGroup = { what: string; monthly: number; count: number; verified: boolean };

/** Marks a figure with a price found neither on an AWS page nor a dated copy (`not-found`). */
export const UNVERIFIED_MARK = '*';
const UNVERIFIED_NOTE = `Figures marked ${UNVERIFIED_MARK} use a price found neither on an AWS page nor in a dated copy of one when tools/cost/prices.json was written: check it on the page that file names (the others were read on the page or a dated copy of it; the file says which).`;
const mark = (verified: boolean): string => (verified ? '' : ` ${UNVERIFIED_MARK}`);

/** Lines of the same description summed into one, with how many there were, largest first. */
export function groupedIdleLines(e: ProfileEstimate): IdleGroup[] {
  const groups = new Map<string, IdleGroup>();
  for (const l of e.idle.lines) {
    const g = groups.get(l.what) ?? { what: l.what, monthly: 0, count: 0, verified: true };
    g.monthly += l.monthly;
    g.count += 1;
    g.verified &&= l.verified;
    groups.set(l.what, g);
  }
  return [...groups.values()].sort((a, b) => b.monthly - a.monthly);
}

const label = (g: { what: string; count: number }): string =>
  g.count > 1 ? `${g.count} x ${g.what}` : g.what;

/** The plain-text report of one profile: idle lines, the rate table and the limits. */
export function renderText(e: ProfileEstimate): string {
  const out = [summaryLine(e)];
  for (const l of [...e.idle.lines].sort((a, b) => b.monthly - a.monthly)) {
    out.push(`  ${usd(l.monthly).padStart(10)}${mark(l.verified).padEnd(2)}  ${l.what}  [${l.id}]`);
  }
  out.push('', `  monthly cost by record rate (idle + variable):`);
  for (const row of e.rows) {
    const note =
      row.exceeded.length > 0 ? `  OVER: ${row.exceeded.map((c) => c.what).join('; ')}` : '';
    out.push(`  ${count(row.recordsPerHour).padStart(6)}/h  ${usd(row.total).padStart(12)}${note}`);
    for (const l of row.variable) out.push(`            ${usd(l.monthly).padStart(12)}  ${l.what}`);
  }
  out.push(...limitLines(e).map((l) => `  ${l}`));
  if (e.idle.lines.some((l) => !l.verified)) out.push(`  ${UNVERIFIED_NOTE}`);
  return out.join('\n');
}

function limitLines(e: ProfileEstimate): string[] {
  const lines: string[] = [];
  const bound = ceiling(e);
  if (bound) {
    lines.push(
      `${e.profile} holds up to about ${count(bound.maxRecordsPerHour)} records/hour (bound: ${bound.what})`,
    );
  }
  for (const p of e.problems) lines.push(`${e.profile}: ${p}`);
  if (e.cacheKeys !== undefined) {
    lines.push(
      `${e.profile}: the ${e.shape.cacheNodeType} cache holds about ${count(Math.round(e.cacheKeys))} keys (join ids and delivered payloads, at the soak's 484 bytes a key, less the memory AWS recommends reserving for the node size)`,
    );
  }
  if (e.newEnvironmentsPerSecond !== undefined) {
    lines.push(
      `${e.profile}: T3 brokers accept 4 new IAM connections a second each, about ${e.newEnvironmentsPerSecond.toFixed(1)} new Lambda environments a second in all (3 connections each): a burst of cold starts beyond that is refused and retried`,
    );
  }
  return lines;
}

/** The Markdown section docs/deploy.md carries between its cost markers. */
export function renderMarkdown(estimates: ProfileEstimate[]): string {
  const out: string[] = [];
  for (const e of estimates) {
    out.push(`**${summaryLine(e)}**`, '', '| idle, per month | what |', '|---:|---|');
    for (const g of groupedIdleLines(e)) {
      out.push(`| ${usd(g.monthly)}${mark(g.verified)} | ${label(g)} |`);
    }
    out.push('');
  }
  out.push(
    `| records an hour | ${estimates.map((e) => e.profile).join(' | ')} |`,
    `|---:|${estimates.map(() => '---:').join('|')}|`,
  );
  const rates = estimates[0]?.rows.map((r) => r.recordsPerHour) ?? [];
  rates.forEach((rate, i) => {
    const cells = estimates.map((e) => {
      const row = e.rows[i];
      if (!row) return '';
      return row.exceeded.length > 0 ? `${usd(row.total)} (over capacity)` : usd(row.total);
    });
    out.push(`| ${count(rate)} | ${cells.join(' | ')} |`);
  });
  out.push('');
  for (const e of estimates) out.push(...limitLines(e).map((l) => `- ${l}`));
  if (estimates.some((e) => e.idle.lines.some((l) => !l.verified))) out.push('', UNVERIFIED_NOTE);
  return out.join('\n');
}
