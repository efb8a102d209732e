import { LOG_QUERY_FIELDS } from '../../infra/naming.ts';
import { PipelineError } from '../../shared/errors.ts';
import { BUILT_IN_JOIN, SOURCE_NAMES } from '../../shared/sources/registry.ts';

/** What a person asks the logs for; every field narrows the result. */
export type LogFilter = {
  id?: string;
  correlationId?: string;
  /** The start of a correlation id (at least 8 hex digits or dashes), as the table shows it. */
  correlationPrefix?: string;
  /** The lowest level to show: WARN shows WARN, ERROR and CRITICAL. */
  level?: LogLevel;
  since: Date;
  /** A function role: fetch-<source>, merge, replay, redrive, sweep-<join>, topic-admin. */
  function?: string;
};

const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL'] as const;
export type LogLevel = (typeof LEVELS)[number];

/** One log line, with the fields the pipeline writes pulled out. */
export type LogEntry = {
  timestamp: string;
  level: string;
  service: string;
  message: string;
  id?: string;
  correlationId?: string;
  topic?: string;
  partition?: number;
  offset?: string;
  hash?: string;
  reason?: string;
  /** Every field of the line, for --json. */
  fields: Record<string, unknown>;
};

export class LogQueryError extends PipelineError {
  override name = 'LogQueryError';
}

const SINCE = /^(\d+)\s*(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "15m", "2h", "7d" before `now`, or an ISO time. Throws LogQueryError naming the value. */
export function parseSince(value: string, now: Date): Date {
  const relative = SINCE.exec(value.trim());
  if (relative) {
    const unit = relative[2] as keyof typeof UNIT_MS;
    return new Date(now.getTime() - Number(relative[1]) * UNIT_MS[unit]);
  }
  const absolute = new Date(value);
  if (Number.isNaN(absolute.getTime())) {
    throw new LogQueryError(`--since must be like 15m, 2h, 7d or an ISO time, got "${value}"`);
  }
  return absolute;
}

/** Upper-cases and checks a --level value. */
export function parseLevel(value: string): LogLevel {
  const level = value.toUpperCase();
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new LogQueryError(`--level must be one of ${LEVELS.join(', ')}, got "${value}"`);
  }
  return level as LogLevel;
}

const rank = (level: string) => LEVELS.indexOf(level.toUpperCase() as LogLevel);

/** Whether a line passes the filter (the local log file is filtered here, line by line). */
export function matches(entry: LogEntry, filter: LogFilter): boolean {
  if (Date.parse(entry.timestamp) < filter.since.getTime()) return false;
  if (filter.id !== undefined && entry.id !== filter.id) return false;
  if (filter.correlationId !== undefined && entry.correlationId !== filter.correlationId) {
    return false;
  }
  if (
    filter.correlationPrefix !== undefined &&
    !entry.correlationId?.toLowerCase().startsWith(filter.correlationPrefix)
  ) {
    return false;
  }
  if (filter.level !== undefined && rank(entry.level) < rank(filter.level)) return false;
  if (filter.function !== undefined && entry.service !== filter.function) return false;
  return true;
}

const quote = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * The CloudWatch Logs Insights query for a filter. The time range and the log groups (which the
 * function filter picks) are parameters of the query call, not part of this string.
 */
export function insightsQuery(filter: LogFilter, limit: number): string {
  const lines = [`fields ${LOG_QUERY_FIELDS.join(', ')}`, 'filter ispresent(level)'];
  if (filter.id !== undefined) lines.push(`filter id = ${quote(filter.id)}`);
  if (filter.correlationId !== undefined) {
    lines.push(`filter correlationId = ${quote(filter.correlationId)}`);
  }
  if (filter.correlationPrefix !== undefined) {
    // Hex digits and dashes only (tools/logs/prefixes.ts): nothing to escape in the pattern.
    lines.push(`filter correlationId like /^${filter.correlationPrefix}/`);
  }
  if (filter.level !== undefined) {
    const levels = LEVELS.slice(rank(filter.level)).map(quote).join(', ');
    lines.push(`filter level in [${levels}]`);
  }
  lines.push('sort @timestamp asc', `limit ${limit}`);
  return lines.join('\n| ');
}

/** The function roles whose logs the command reads when --function is not given. */
export const PIPELINE_ROLES = [
  ...SOURCE_NAMES.map((name) => `fetch-${name}`),
  'merge',
  'replay',
  'redrive',
  `sweep-${BUILT_IN_JOIN.name}`,
];
