import type { LogEntry } from './filters.ts';

const COLUMNS: { title: string; value: (entry: LogEntry) => string; width?: number }[] = [
  { title: 'time', value: (e) => e.timestamp.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') },
  { title: 'level', value: (e) => e.level },
  { title: 'function', value: (e) => e.service },
  { title: 'message', value: (e) => e.message },
  { title: 'id', value: (e) => e.id ?? '' },
  {
    title: 'where',
    value: (e) =>
      e.topic === undefined
        ? ''
        : `${e.topic}${e.partition === undefined ? '' : `[${e.partition}]`}${e.offset === undefined ? '' : `@${e.offset}`}`,
  },
  { title: 'hash', value: (e) => (e.hash ? `${e.hash.slice(0, 12)}…` : '') },
  { title: 'correlation', value: (e) => (e.correlationId ? e.correlationId.slice(0, 8) : '') },
  { title: 'reason', value: (e) => e.reason ?? '', width: 60 },
];

/** A plain-text table of the entries, one line each, columns that are all empty left out. */
export function renderTable(entries: LogEntry[]): string {
  if (entries.length === 0) return 'No log lines match.';
  const cells = entries.map((entry) =>
    COLUMNS.map((column) => {
      const value = column.value(entry);
      return column.width && value.length > column.width
        ? `${value.slice(0, column.width - 1)}…`
        : value;
    }),
  );
  const used = COLUMNS.map((_, index) => cells.some((row) => row[index] !== ''));
  const widths = COLUMNS.map((column, index) =>
    Math.max(column.title.length, ...cells.map((row) => row[index]?.length ?? 0)),
  );
  const line = (values: string[]) =>
    values
      .map((value, index) => (used[index] ? value.padEnd(widths[index] ?? 0) : undefined))
      .filter((value) => value !== undefined)
      .join('  ')
      .trimEnd();
  return [
    line(COLUMNS.map((column) => column.title)),
    ...cells.map(line),
    `${entries.length} line(s)`,
  ].join('\n');
}

/** One JSON object per line: every field of each log line. */
export function renderJson(entries: LogEntry[]): string {
  return entries.map((entry) => JSON.stringify(entry.fields)).join('\n');
}
