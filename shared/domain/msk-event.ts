import type { MSKEvent, MSKRecord } from 'aws-lambda';

/** One Kafka record of an MSK event, decoded from base64 and header byte arrays. */
export type DecodedRecord = {
  topic: string;
  partition: number;
  offset: string;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
};

/**
 * Flattens an MSK event (records grouped by "topic-partition") into decoded records, in
 * partition order then offset order, which is the order the join must apply them in.
 */
export function decodeMskEvent(event: MSKEvent): DecodedRecord[] {
  const records: DecodedRecord[] = [];
  for (const group of Object.values(event.records ?? {})) {
    for (const record of group) records.push(decodeRecord(record));
  }
  return records;
}

function decodeRecord(record: MSKRecord): DecodedRecord {
  const raw = record as MSKRecord & { key?: string | null; value?: string | null };
  return {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    timestamp: record.timestamp,
    key: raw.key == null ? null : Buffer.from(raw.key, 'base64').toString('utf8'),
    value: raw.value == null ? null : Buffer.from(raw.value, 'base64').toString('utf8'),
    headers: decodeHeaders(record.headers),
  };
}

function decodeHeaders(headers: MSKRecord['headers'] | undefined): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const header of headers ?? []) {
    for (const [name, bytes] of Object.entries(header)) {
      decoded[name] = Buffer.from(bytes as number[]).toString('utf8');
    }
  }
  return decoded;
}

/** Encodes records as an MSK event, the shape Lambda's event source mapping delivers. */
export function encodeMskEvent(
  records: readonly DecodedRecord[],
  source: { eventSourceArn: string; bootstrapServers: string },
): MSKEvent {
  const grouped: MSKEvent['records'] = {};
  for (const record of records) {
    const groupKey = `${record.topic}-${record.partition}`;
    const group = grouped[groupKey] ?? [];
    grouped[groupKey] = group;
    const entry = {
      topic: record.topic,
      partition: record.partition,
      offset: Number(record.offset),
      timestamp: record.timestamp,
      timestampType: 'CREATE_TIME',
      headers: Object.entries(record.headers).map(([name, value]) => ({
        [name]: [...Buffer.from(value)],
      })),
    } as MSKRecord;
    // Lambda leaves out the key (and value) of a record that has none.
    if (record.key !== null) entry.key = Buffer.from(record.key).toString('base64');
    if (record.value !== null) entry.value = Buffer.from(record.value).toString('base64');
    group.push(entry);
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: source.eventSourceArn,
    bootstrapServers: source.bootstrapServers,
    records: grouped,
  };
}
