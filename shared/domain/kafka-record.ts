import type { RecordCheck } from './records.ts';

/**
 * One Kafka record as the merge reads it, whatever carried it (an MSK event decoded at the
 * handler's edge, or a failed batch read back by the redrive): key, value and headers as text.
 */
export type DecodedRecord = {
  topic: string;
  partition: number;
  offset: string;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  /**
   * The value already parsed and checked against its topic's record rules by the edge that
   * decoded it (the merge handler, through Powertools' Kafka consumer and the topic's schema).
   * Absent when the edge left it to the merge (the redrive, an unknown topic, an oversized or
   * missing value): the merge then parses and checks `value` itself.
   */
  checked?: RecordCheck;
};
