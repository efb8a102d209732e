import { kafkaConsumer } from '@aws-lambda-powertools/kafka';
import { KafkaConsumerError } from '@aws-lambda-powertools/kafka/errors';
import type {
  ConsumerRecord,
  ConsumerRecords,
  MSKEvent as PowertoolsMskEvent,
  SchemaConfig,
} from '@aws-lambda-powertools/kafka/types';
import type { Context, MSKEvent } from 'aws-lambda';
import { z } from 'zod';
import type { DecodedRecord } from '../domain/kafka-record.ts';
import { checkRecord, NOT_JSON, type RecordCheck, type RecordRules } from '../domain/records.ts';

/**
 * The value schema of one source topic: a JSON value that passes the source's record rules
 * (id, required fields, change field). It yields the check itself, so the merge reads the id,
 * the record and its change value without parsing or checking again; a failure's message is
 * the reason the record is quarantined with.
 */
export function recordSchemaOf(rules: RecordRules) {
  return z.unknown().transform((raw, ctx): RecordCheck => {
    const checked = checkRecord(rules, raw);
    if (checked.ok) return checked;
    ctx.issues.push({
      code: 'custom',
      message: checked.reason,
      input: raw,
      params: { id: checked.id, text: typeof raw === 'string' },
    });
    return z.NEVER;
  });
}

export type MskReaderOptions = {
  /** The value schema of a topic (recordSchemaOf its source's rules); undefined for others. */
  schemaFor(topic: string): ReturnType<typeof recordSchemaOf> | undefined;
  /** Largest value, in bytes, worth parsing; a larger one is left for the merge to refuse. */
  maxRecordBytes: number;
};

type Consume = (event: PowertoolsMskEvent, context: Context) => Promise<unknown>;

/** Powertools hands the wrapped handler a context; this reader has no use for it. */
const NO_CONTEXT = {} as Context;

/**
 * Reads an MSK event at the merge handler's edge with Powertools' Kafka consumer
 * (`kafkaConsumer(handler, { value: { type: 'json', parserSchema } })`): base64 keys and values,
 * byte-array headers, and each topic's values parsed as JSON and checked with its schema.
 *
 * Records come out in the event's order (partition, then offset) and none is lost: a value
 * that is missing, too large, not JSON or against its schema comes out with the reason in
 * `checked` (or without `checked`, for the merge to refuse by its own rules), and the merge
 * quarantines it. Only an event that is not an MSK event at all throws.
 */
export function createMskReader(options: MskReaderOptions) {
  const consumers = new Map<string, Consume>();
  const consumerOf = (topic: string): Consume => {
    let consume = consumers.get(topic);
    if (consume) return consume;
    const schema = options.schemaFor(topic);
    const config: SchemaConfig | undefined = schema && {
      value: { type: 'json', parserSchema: schema },
    };
    consume = kafkaConsumer(
      async (event: ConsumerRecords<unknown, unknown>) =>
        event.records.map((record) => toDecoded(record, schema !== undefined, options)),
      config,
    );
    consumers.set(topic, consume);
    return consume;
  };

  return async (event: MSKEvent): Promise<DecodedRecord[]> => {
    const records: DecodedRecord[] = [];
    for (const [group, groupRecords] of Object.entries(event.records ?? {})) {
      const topic = groupRecords[0]?.topic;
      if (topic === undefined) continue;
      const one = { ...event, records: { [group]: groupRecords } } as unknown as PowertoolsMskEvent;
      records.push(...((await consumerOf(topic)(one, NO_CONTEXT)) as DecodedRecord[]));
    }
    return records;
  };
}

function toDecoded(
  record: ConsumerRecord<unknown, unknown>,
  schema: boolean,
  options: MskReaderOptions,
): DecodedRecord {
  // Powertools leaves out (undefined) a key Lambda left out, and decodes one as UTF-8.
  const key = record.key;
  const encoded = record.originalValue as string | null | undefined;
  const value = encoded == null ? null : Buffer.from(encoded, 'base64').toString('utf8');
  const headers: Record<string, string> = {};
  for (const header of record.headers ?? []) Object.assign(headers, header);
  const decoded: DecodedRecord = {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    timestamp: record.timestamp,
    key: typeof key === 'string' ? key : null,
    value,
    headers,
  };
  if (schema && value !== null && Buffer.byteLength(value) <= options.maxRecordBytes) {
    decoded.checked = readValue(record, value, decoded.key);
  }
  return decoded;
}

/** The value through Powertools' JSON deserializer and the topic's schema, as a record check. */
function readValue(
  record: ConsumerRecord<unknown, unknown>,
  text: string,
  key: string | null,
): RecordCheck {
  try {
    return withoutConsoleError(() => record.value) as RecordCheck;
  } catch (error) {
    if (!(error instanceof KafkaConsumerError)) throw error;
    const issues = (Array.isArray(error.cause) ? error.cause : []) as {
      message?: string;
      params?: { id?: string; text?: boolean };
    }[];
    const first = issues[0];
    // The JSON deserializer hands a value it cannot parse on as its text.
    if (first?.params?.text && !isJson(text)) {
      return { ok: false, reason: NOT_JSON, ...(key !== null && { id: key }) };
    }
    const id = first?.params?.id;
    return {
      ok: false,
      reason: first?.message ?? error.message,
      ...(id !== undefined && { id }),
    };
  }
}

/**
 * Powertools' JSON deserializer prints a value it cannot parse with console.error (its base64
 * and the parser's message, which quotes the text): that line would skip the logger's masking,
 * and the record is quarantined with its reason anyway. The getter is synchronous, so nothing
 * else runs while console.error is muted.
 */
function withoutConsoleError<T>(read: () => T): T {
  const original = console.error;
  console.error = () => {};
  try {
    return read();
  } finally {
    console.error = original;
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
