import type { MSKEvent } from 'aws-lambda';
import type { DecodedRecord } from '../shared/domain/kafka-record.ts';
import { encodeMskEvent } from './msk-event.ts';

/**
 * An MSK event of source records as the fetch function would have published them (key = id,
 * fetched-at and correlation-id headers), all on partition 0 of one topic. For benchmarks and
 * fault scenarios that invoke the merge handler directly.
 */
export function mskBatchOf(
  topic: string,
  raws: Record<string, unknown>[],
  correlationId: string,
): MSKEvent {
  const now = Date.now();
  const records: DecodedRecord[] = raws.map((raw, index) => ({
    topic,
    partition: 0,
    offset: String(index),
    timestamp: now,
    key: String(raw.id),
    value: JSON.stringify(raw),
    headers: { 'fetched-at': new Date(now).toISOString(), 'correlation-id': correlationId },
  }));
  return encodeMskEvent(records, {
    eventSourceArn: `arn:aws:kafka:local:000000000000:cluster/${correlationId}`,
    bootstrapServers: '',
  });
}
