import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { catchUpToEnd, type StoredRecord } from '../shared/adapters/kafka-catch-up.ts';

/** Records quarantined by one source at one stage, with the first distinct reasons. */
export type QuarantineCount = {
  source: string;
  stage: string;
  count: number;
  /** Up to MAX_REASONS distinct reasons, in the order they were quarantined. */
  reasons: string[];
};

const MAX_REASONS = 3;

/**
 * Counts quarantine entries per source and stage, in first-seen order. An entry names its source
 * (the fetch side) or its topic (the merge side: `sourceOfTopic` names the source); one that
 * names neither, or is not JSON, is counted under `unknown`.
 */
export function tallyEntries(
  values: readonly (string | null)[],
  sourceOfTopic: (topic: string) => string | undefined = () => undefined,
): QuarantineCount[] {
  const tally = new Map<string, QuarantineCount>();
  for (const value of values) {
    let entry: { source?: unknown; topic?: unknown; stage?: unknown; reason?: unknown } = {};
    try {
      entry = JSON.parse(value ?? '') ?? {};
    } catch {}
    const topic = typeof entry.topic === 'string' ? entry.topic : undefined;
    const source =
      (typeof entry.source === 'string' ? entry.source : undefined) ??
      (topic !== undefined ? (sourceOfTopic(topic) ?? topic) : 'unknown');
    const stage = typeof entry.stage === 'string' ? entry.stage : 'unknown';
    const reason = typeof entry.reason === 'string' ? entry.reason : '(no reason recorded)';
    const key = `${source}\u0000${stage}`;
    const count = tally.get(key) ?? { source, stage, count: 0, reasons: [] };
    count.count++;
    if (count.reasons.length < MAX_REASONS && !count.reasons.includes(reason)) {
      count.reasons.push(reason);
    }
    tally.set(key, count);
  }
  return [...tally.values()];
}

/**
 * Reads the whole quarantine topic as it is now (a throwaway consumer group that commits
 * nothing) and tallies it per source and stage. Rejects after `timeoutMs`.
 */
export async function readQuarantine(
  kafka: Kafka,
  topic: string,
  sourceOfTopic: (topic: string) => string | undefined,
  timeoutMs = 30_000,
): Promise<QuarantineCount[]> {
  const records: StoredRecord[] = [];
  await catchUpToEnd(kafka, {
    topics: [topic],
    groupId: `local-verdict-${randomUUID()}`,
    timeoutMs,
    what: `reading ${topic}`,
    onChunk: async (chunk, origin) => {
      records.push(...chunk);
      const last = chunk.at(-1);
      return { stop: last !== undefined && BigInt(last.offset) + 1n >= origin.end };
    },
  });
  return tallyEntries(
    records.map((record) => record.value),
    sourceOfTopic,
  );
}

/** `crm at fetch: 8 (first: "id: …"; "…")`, one per source and stage, joined. */
export function describeQuarantine(counts: readonly QuarantineCount[]): string {
  return counts
    .map(
      ({ source, stage, count, reasons }) =>
        `${source} at ${stage}: ${count} (first: ${reasons.map((r) => JSON.stringify(r.length > 160 ? `${r.slice(0, 160)}…` : r)).join('; ')})`,
    )
    .join(', ');
}
