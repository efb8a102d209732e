import type { DecodedRecord } from '../../shared/domain/kafka-record.ts';

let nextOffset = 0;

/**
 * A Kafka record as the merge sees it after decoding: keyed by the value's id unless `key` says
 * otherwise, with the headers the fetch function sets.
 */
export function aDecodedRecord(
  topic: string,
  value: unknown,
  options: { key?: string | null; headers?: Record<string, string>; timestamp?: number } = {},
): DecodedRecord {
  const id = (value as { id?: unknown } | null)?.id;
  return {
    topic,
    partition: 0,
    offset: String(nextOffset++),
    timestamp: options.timestamp ?? Date.now(),
    key: options.key === undefined ? (typeof id === 'string' ? id : null) : options.key,
    value: value === null ? null : typeof value === 'string' ? value : JSON.stringify(value),
    headers: options.headers ?? {
      'correlation-id': 'run-1',
      'fetched-at': new Date().toISOString(),
    },
  };
}
