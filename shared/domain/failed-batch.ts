import type { DecodedRecord } from './kafka-record.ts';

/**
 * Failed batches: what an event source mapping gave up on after its retries. Each source topic
 * has its own on-failure topic on the same cluster (`failed_customer_data`, …), so a record read
 * back from one is known to belong to its source topic whatever metadata Lambda writes with it.
 */
const FAILED_TOPIC_PREFIX = 'failed_';

/** The on-failure topic of a source topic (both without any run prefix). */
export function failedTopicOf(sourceTopic: string): string {
  return `${FAILED_TOPIC_PREFIX}${sourceTopic}`;
}

/** Headers the local emulator writes on a failed record (Lambda writes its own metadata). */
export const FAILED_HEADERS = {
  topic: 'failed-source-topic',
  partition: 'failed-source-partition',
  offset: 'failed-source-offset',
  attempts: 'failed-attempts',
  reason: 'failed-reason',
} as const;

/** A record as read back from an on-failure topic (its topic is the one being read). */
export type FailedMessage = Omit<DecodedRecord, 'topic' | 'checked'>;

/** A record of an MSK event, as a JSON envelope may carry it (base64 key and value). */
type EnvelopeRecord = {
  partition?: unknown;
  offset?: unknown;
  timestamp?: unknown;
  key?: unknown;
  value?: unknown;
  headers?: unknown;
};

/**
 * Every source record a message read back from an on-failure topic stands for, on
 * `sourceTopic` (with any run prefix), in partition then offset order.
 *
 * What Lambda writes to a Kafka on-failure destination is one JSON envelope per failed batch:
 * `requestContext`, `responseContext`, `version`, `timestamp`, `KafkaBatchInfo`, and the batch
 * itself under `payload.records["<topic>-<partition>"]`, each record as an MSK event carries
 * it (base64 `key` and `value`, byte-array headers). Every record of every partition in it
 * comes back. See "Record format for a Kafka destination" in
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
 * (test/events/msk-on-failure-kafka.json is its example). Any other message is read by
 * decodeFailedMessage: one record.
 */
export function decodeFailedMessages(message: FailedMessage, sourceTopic: string): DecodedRecord[] {
  const batch = lambdaFailureBatch(message.value);
  if (!batch) return [decodeFailedMessage(message, sourceTopic)];
  const outer = stripFailureHeaders({ ...message.headers });
  return batch.map(({ partitionKey, record }) => ({
    topic: sourceTopic,
    partition: numberOr(
      record.partition,
      numberOr(partitionKey.slice(partitionKey.lastIndexOf('-') + 1), message.partition),
    ),
    offset: record.offset === undefined ? message.offset : String(record.offset),
    timestamp: numberOr(record.timestamp, message.timestamp),
    key: typeof record.key === 'string' ? fromBase64(record.key) : null,
    value: typeof record.value === 'string' ? decodedValue(record.value) : null,
    headers: { ...outer, ...envelopeHeaders(record.headers) },
  }));
}

/** Lambda's failure envelope: the fields that say a message is one, and the batch it holds. */
type LambdaFailureEnvelope = {
  requestContext?: unknown;
  KafkaBatchInfo?: unknown;
  payload?: { records?: unknown };
};

/**
 * The records of Lambda's failure envelope, flattened; undefined when the message is not one
 * (no `KafkaBatchInfo` and `requestContext`, or no `payload.records` map of record arrays).
 */
function lambdaFailureBatch(
  value: string | null,
): { partitionKey: string; record: EnvelopeRecord }[] | undefined {
  const parsed = parseJson(value) as LambdaFailureEnvelope | undefined;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  if (typeof parsed.KafkaBatchInfo !== 'object' || typeof parsed.requestContext !== 'object')
    return undefined;
  const records = parsed.payload?.records;
  if (typeof records !== 'object' || records === null || Array.isArray(records)) return undefined;
  const batch: { partitionKey: string; record: EnvelopeRecord }[] = [];
  for (const [partitionKey, list] of Object.entries(records as Record<string, unknown>)) {
    if (!Array.isArray(list)) return undefined;
    for (const record of list) {
      if (typeof record !== 'object' || record === null) return undefined;
      batch.push({ partitionKey, record: record as EnvelopeRecord });
    }
  }
  return batch;
}

function parseJson(value: string | null): unknown {
  if (value === null) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/** A base64 value decoded; a value that is not base64 as it is, for the merge to quarantine. */
function decodedValue(value: string): string {
  return BASE64.test(value) ? fromBase64(value) : value;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The source record a failed message stands for, on `sourceTopic` (with any run prefix).
 *
 * Two layouts are read: the record itself (key and value as the fetch function published them,
 * which is what the local emulator writes), and a JSON envelope holding the record the way an
 * MSK event does (base64 `value`, optional base64 `key`, offset and partition), possibly under
 * a `payload`, `record` or `records` field. Anything else is passed on unchanged: the merge then
 * quarantines it with its reason, so nothing read back is dropped silently.
 */
export function decodeFailedMessage(message: FailedMessage, sourceTopic: string): DecodedRecord {
  const envelope = envelopeRecord(message.value);
  const headers = { ...message.headers };
  if (!envelope) {
    return {
      topic: sourceTopic,
      partition: numberOr(headers[FAILED_HEADERS.partition], message.partition),
      offset: headers[FAILED_HEADERS.offset] ?? message.offset,
      timestamp: message.timestamp,
      key: message.key,
      value: message.value,
      headers: stripFailureHeaders(headers),
    };
  }
  return {
    topic: sourceTopic,
    partition: numberOr(envelope.partition, message.partition),
    offset: envelope.offset === undefined ? message.offset : String(envelope.offset),
    timestamp: numberOr(envelope.timestamp, message.timestamp),
    key: typeof envelope.key === 'string' ? fromBase64(envelope.key) : message.key,
    value: fromBase64(envelope.value as string),
    headers: { ...stripFailureHeaders(headers), ...envelopeHeaders(envelope.headers) },
  };
}

function envelopeRecord(value: string | null): EnvelopeRecord | undefined {
  // Not JSON: the record itself, which the merge will quarantine.
  const parsed = parseJson(value);
  if (parsed === undefined) return undefined;
  const candidates = [parsed, ...nested(parsed)];
  for (const candidate of candidates) {
    if (isEnvelope(candidate)) return candidate;
  }
  return undefined;
}

function nested(parsed: unknown): unknown[] {
  if (typeof parsed !== 'object' || parsed === null) return [];
  const object = parsed as Record<string, unknown>;
  const found: unknown[] = [];
  for (const field of ['payload', 'record', 'records']) {
    const inner = object[field];
    if (Array.isArray(inner)) found.push(...inner);
    else if (inner !== undefined) found.push(inner);
  }
  return found;
}

/** An MSK-event record: a base64 value and a numeric offset; a source record has neither. */
function isEnvelope(candidate: unknown): candidate is EnvelopeRecord {
  if (typeof candidate !== 'object' || candidate === null) return false;
  const record = candidate as EnvelopeRecord;
  return (
    typeof record.value === 'string' &&
    BASE64.test(record.value) &&
    (typeof record.offset === 'number' || typeof record.offset === 'string')
  );
}

function envelopeHeaders(headers: unknown): Record<string, string> {
  const decoded: Record<string, string> = {};
  if (!Array.isArray(headers)) return decoded;
  for (const header of headers) {
    if (typeof header !== 'object' || header === null) continue;
    for (const [name, bytes] of Object.entries(header as Record<string, unknown>)) {
      if (Array.isArray(bytes)) decoded[name] = Buffer.from(bytes as number[]).toString('utf8');
    }
  }
  return decoded;
}

function stripFailureHeaders(headers: Record<string, string>): Record<string, string> {
  const kept = { ...headers };
  for (const name of Object.values(FAILED_HEADERS)) delete kept[name];
  return kept;
}

function fromBase64(value: string): string {
  return Buffer.from(value, 'base64').toString('utf8');
}

function numberOr(value: unknown, fallback: number): number {
  const number = typeof value === 'string' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : fallback;
}
