import type { MSKEvent } from 'aws-lambda';
import type { DecodedRecord } from '../../shared/domain/kafka-record.ts';

/**
 * The event's records as they were published (base64 key and value decoded to text, headers
 * joined), with no schema: what the on-demand give-up writes to a failed topic, and what it can
 * still write when the merge could not even start (Redis unreachable, a record undecodable).
 * The MSK event shape: https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 */
export function rawRecordsOf(event: MSKEvent): DecodedRecord[] {
  const text = (base64: string | null | undefined) =>
    base64 == null ? null : Buffer.from(base64, 'base64').toString('utf8');
  return Object.values(event.records ?? {}).flatMap((group) =>
    group.map((record) => {
      const headers: Record<string, string> = {};
      for (const header of record.headers ?? []) {
        for (const [name, bytes] of Object.entries(header)) {
          headers[name] = Buffer.from(bytes as number[]).toString('utf8');
        }
      }
      return {
        topic: record.topic,
        partition: record.partition,
        offset: String(record.offset),
        timestamp: record.timestamp,
        key: text((record as { key?: string | null }).key),
        value: text(record.value),
        headers,
      };
    }),
  );
}
