import {
  HASH_PLACEHOLDER,
  LOG_QUERY_FIELDS,
  PAYLOAD_LINEAGE_QUERY_PARTS,
} from '../../infra/naming.ts';

export { HASH_PLACEHOLDER, PAYLOAD_LINEAGE_QUERY_PARTS };

import type { RecordOrigin } from '../../shared/domain/merge.ts';
import { type LogEntry, LogQueryError } from './filters.ts';

/** The query text, as CDK's QueryString writes it from the parts (a test holds them equal). */
export const PAYLOAD_LINEAGE_QUERY = [
  `fields ${PAYLOAD_LINEAGE_QUERY_PARTS.fields.join(', ')}`,
  ...PAYLOAD_LINEAGE_QUERY_PARTS.filterStatements.map((statement) => `filter ${statement}`),
  `sort ${PAYLOAD_LINEAGE_QUERY_PARTS.sort}`,
  `limit ${PAYLOAD_LINEAGE_QUERY_PARTS.limit}`,
].join('\n| ');

const HASH = /^[0-9a-f]{64}$/;

/** Checks a --payload value: the 64 hex digits of a SHA-256. */
export function parsePayloadHash(value: string): string {
  const hash = value.trim().toLowerCase();
  if (!HASH.test(hash)) {
    throw new LogQueryError(
      `--payload must be a payload's hash (64 hex digits, the Idempotency-Key), got "${value}"`,
    );
  }
  return hash;
}

/**
 * The query of the lines whose hash starts with a prefix (hex digits only, checked by
 * parsePayloadArgument), to find the one payload it names.
 */
export function payloadPrefixQuery(prefix: string): string {
  if (!/^[0-9a-f]+$/.test(prefix)) throw new LogQueryError(`not a hash prefix: "${prefix}"`);
  return [
    `fields ${LOG_QUERY_FIELDS.join(', ')}`,
    `filter hash like /^${prefix}/`,
    'sort @timestamp desc',
    'limit 200',
  ].join('\n| ');
}

/** The lineage query text for one hash. */
export function payloadLineageQuery(hash: string): string {
  return PAYLOAD_LINEAGE_QUERY.replace(HASH_PLACEHOLDER, parsePayloadHash(hash));
}

/**
 * The query of the source side of a payload's path: the lines of its id written by the fetch
 * runs (and the merge's reads) its sides came from.
 */
export function sourceSideQuery(id: string, correlationIds: string[], limit: number): string {
  const quote = (value: string) => JSON.stringify(value);
  return [
    `fields ${LOG_QUERY_FIELDS.join(', ')}`,
    `filter id = ${quote(id)} and correlationId in [${correlationIds.map(quote).join(', ')}]`,
    'sort @timestamp asc',
    `limit ${limit}`,
  ].join('\n| ');
}

/** A payload's lineage, read from its `payload lineage` line. */
export type Lineage = { hash: string; id?: string; sides: Record<string, RecordOrigin> };

/**
 * The lineage of the payload with this hash among the entries (the latest line, should it have
 * been written twice); undefined when none is there.
 */
export function lineageIn(entries: LogEntry[], hash: string): Lineage | undefined {
  const line = entries.findLast(
    (entry) => entry.hash === hash && entry.message === 'payload lineage',
  );
  if (!line) return undefined;
  const fields = line.fields.sides === undefined ? messageFields(line) : line.fields;
  const sides: Record<string, RecordOrigin> = {};
  const raw = (fields.sides ?? {}) as Record<string, Partial<RecordOrigin>>;
  for (const [side, origin] of Object.entries(raw)) {
    if (typeof origin?.topic !== 'string' || origin.offset === undefined) continue;
    sides[side] = {
      topic: origin.topic,
      partition: Number(origin.partition),
      offset: String(origin.offset),
      ...(typeof origin.correlationId === 'string' && { correlationId: origin.correlationId }),
    };
  }
  return { hash, ...(line.id !== undefined && { id: line.id }), sides };
}

/** A Logs Insights row's whole line, from its @message (after any runtime prefix). */
function messageFields(entry: LogEntry): Record<string, unknown> {
  const message = entry.fields['@message'];
  if (typeof message !== 'string') return {};
  try {
    return JSON.parse(message.slice(Math.max(0, message.indexOf('{')))) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * The lines on the payload's path, oldest first: the fetch runs' lines of its id (`record
 * published`), the merge's reads of the very records (`record joined`, at the origins' topic,
 * partition and offset), and every line carrying its hash (lineage, delivery, retries, dead
 * letter, replay). Lines of the id about another payload (another hash, another offset) are
 * left out.
 */
export function payloadPath(entries: LogEntry[], lineage: Lineage): LogEntry[] {
  const runs = new Set(
    Object.values(lineage.sides).flatMap((origin) =>
      origin.correlationId === undefined ? [] : [origin.correlationId],
    ),
  );
  const origins = Object.values(lineage.sides);
  const onPath = (entry: LogEntry) => {
    if (entry.hash !== undefined) return entry.hash === lineage.hash;
    if (lineage.id === undefined || entry.id !== lineage.id) return false;
    if (entry.correlationId === undefined || !runs.has(entry.correlationId)) return false;
    if (entry.offset === undefined) return true; // the fetch's line: no offset yet
    return origins.some(
      (origin) =>
        origin.topic === entry.topic &&
        origin.partition === entry.partition &&
        origin.offset === entry.offset,
    );
  };
  const seen = new Set<string>();
  return entries
    .filter(onPath)
    .filter((entry) => {
      // Two queries may return one line twice.
      const key = JSON.stringify([entry.timestamp, entry.service, entry.message, entry.offset]);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
}

/** The lineage as lines above the path's table: each side's topic, partition, offset and run. */
export function lineageSummary(lineage: Lineage): string[] {
  const lines = [`payload ${lineage.hash}${lineage.id === undefined ? '' : ` (id ${lineage.id})`}`];
  for (const [side, origin] of Object.entries(lineage.sides)) {
    const run =
      origin.correlationId === undefined
        ? 'no fetch run named'
        : `fetch run ${origin.correlationId}`;
    lines.push(`  ${side}: ${origin.topic}[${origin.partition}]@${origin.offset}, ${run}`);
  }
  return lines;
}
