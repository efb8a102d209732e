import type { MSKEvent, MSKRecord } from 'aws-lambda';
import type { DecodedRecord } from '../shared/domain/kafka-record.ts';

/**
 * Encodes records as the MSK event Lambda's event source mapping delivers (AWS's documented
 * shape): grouped by "topic-partition", key and value base64, each header an object of one name
 * and its value's bytes; a record without a key (or value) leaves the field out.
 */
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
