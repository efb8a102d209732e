import { LogQueryError } from './filters.ts';

/**
 * Hashes and correlation ids as a person copies them from the table, which shortens them (12
 * hex digits and an ellipsis for a hash, 8 for a correlation id): a whole value, or a prefix of
 * at least MIN_PREFIX hex digits that names one value among the lines read.
 */
export const MIN_PREFIX = 8;

const HASH = /^[0-9a-f]{64}$/;
const HEX_PREFIX = /^[0-9a-f-]+$/;

/** What the person gave: the whole value, or a prefix to resolve against the lines. */
export type IdOrPrefix = { whole: string } | { prefix: string };

/** The value without the ellipsis the table ends a shortened hash with. */
const trimmed = (value: string) =>
  value
    .trim()
    .replace(/(…|\.\.\.)$/, '')
    .toLowerCase();

/**
 * A --payload value: a payload's hash (64 hex digits, the Idempotency-Key) or a prefix of it of
 * at least 8 hex digits. Throws LogQueryError naming the value otherwise.
 */
export function parsePayloadArgument(value: string): IdOrPrefix {
  const hash = trimmed(value);
  if (HASH.test(hash)) return { whole: hash };
  if (/^[0-9a-f]+$/.test(hash) && hash.length >= MIN_PREFIX) return { prefix: hash };
  throw new LogQueryError(
    `--payload must be a payload's hash (64 hex digits, the Idempotency-Key) or the first ${MIN_PREFIX} or more of them, got "${value}"`,
  );
}

/**
 * A --correlation-id value: taken whole, unless it looks like the start of a run's id (at least
 * 8 hex digits or dashes, as the table shows it) and is not itself an id among the lines.
 */
export function parseCorrelationArgument(value: string): IdOrPrefix {
  const id = trimmed(value);
  return HEX_PREFIX.test(id) && id.length >= MIN_PREFIX && id.length < 36
    ? { prefix: id }
    : { whole: value.trim() };
}

/**
 * The one value among `seen` that starts with the prefix (or is it), or undefined when none
 * does. Throws LogQueryError listing the candidates when several do.
 */
export function resolvePrefix(
  what: '--payload' | '--correlation-id',
  prefix: string,
  seen: Iterable<string | undefined>,
): string | undefined {
  const matches = new Set<string>();
  for (const value of seen) {
    if (value === undefined) continue;
    if (value.toLowerCase() === prefix) return value;
    if (value.toLowerCase().startsWith(prefix)) matches.add(value);
  }
  if (matches.size <= 1) return [...matches][0];
  const listed = [...matches].slice(0, 5).join(', ');
  throw new LogQueryError(
    `${what} ${prefix} is ambiguous: it starts ${matches.size} values (${listed}${matches.size > 5 ? ', …' : ''}); give more of it`,
  );
}
