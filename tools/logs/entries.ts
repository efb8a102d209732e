import type { LogEntry } from './filters.ts';

const text = (value: unknown) =>
  value === undefined || value === null || value === '' ? undefined : String(value);

/**
 * A LogEntry from the fields of one line (a parsed JSON log line, or a Logs Insights row).
 * Returns undefined for lines that are not pipeline log lines (EMF metrics, Lambda's REPORT).
 */
export function toEntry(fields: Record<string, unknown>): LogEntry | undefined {
  const level = text(fields.level);
  const message = text(fields.message);
  if (level === undefined || message === undefined) return undefined;
  const partition = text(fields.partition);
  const entry: LogEntry = {
    timestamp: text(fields.timestamp) ?? text(fields['@timestamp']) ?? '',
    level,
    service: text(fields.service) ?? '',
    message,
    fields,
  };
  const optional = {
    id: text(fields.id),
    correlationId: text(fields.correlationId),
    topic: text(fields.topic),
    partition: partition === undefined ? undefined : Number(partition),
    offset: text(fields.offset),
    hash: text(fields.hash),
    reason: text(fields.reason),
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (entry as Record<string, unknown>)[key] = value;
  }
  return entry;
}

/** Parses the lines of a log file; lines that are not JSON pipeline log lines are skipped. */
export function parseLogLines(lines: Iterable<string>): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    let fields: unknown;
    try {
      fields = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof fields !== 'object' || fields === null) continue;
    const entry = toEntry(fields as Record<string, unknown>);
    if (entry) entries.push(entry);
  }
  return entries;
}
