import { describe, expect, it } from 'vitest';
import {
  decodeFailedMessages,
  FAILED_HEADERS,
  type FailedMessage,
} from '../../shared/domain/failed-batch.ts';
import { AWS_FIXTURES, loadEvent } from '../events/fixtures.ts';

/**
 * The envelope Lambda writes to a Kafka on-failure destination, from AWS's page
 * "Using a Kafka topic as an on-failure destination", section "Record format for a Kafka
 * destination": https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
 */
type KafkaFailureEnvelope = {
  requestContext: { condition: string };
  KafkaBatchInfo: { batchSize: number };
  payload: { records: Record<string, Record<string, unknown>[]> };
};

const b64 = (text: string) => Buffer.from(text).toString('base64');
const envelope = () => loadEvent<KafkaFailureEnvelope>(AWS_FIXTURES.kafkaOnFailure);
/** The message as a consumer of the on-failure topic reads it: the envelope is its value. */
const messageOf = (value: unknown, extra: Partial<FailedMessage> = {}): FailedMessage => ({
  partition: 2,
  offset: '900',
  timestamp: 5,
  key: 'test-key',
  value: JSON.stringify(value),
  headers: {},
  ...extra,
});

describe("Lambda's Kafka on-failure envelope, as AWS documents it", () => {
  it("reads the documentation's example as its one record: base64 key and value decoded, offset, partition, timestamp", () => {
    const records = decodeFailedMessages(messageOf(envelope()), 'run.customer_data');
    expect(records).toEqual([
      {
        topic: 'run.customer_data',
        partition: 0,
        offset: '100',
        timestamp: 1749116692330,
        key: 'test-key',
        value: 'test-value',
        headers: {},
      },
    ]);
  });

  it('reads every record of every partition in one message, in the order Lambda wrote them', () => {
    const doc = envelope();
    const [first] = doc.payload.records['my-topic-0'] ?? [];
    doc.payload.records['my-topic-0']?.push({
      ...first,
      offset: 101,
      key: null,
      value: b64('{"id":"2"}'),
    });
    doc.payload.records['my-topic-3'] = [
      {
        ...first,
        partition: 3,
        offset: 7,
        key: b64('9'),
        value: b64('{"id":"9"}'),
        headers: [{ 'correlation-id': [...Buffer.from('c-9')] }],
      },
    ];
    doc.KafkaBatchInfo.batchSize = 3;
    const records = decodeFailedMessages(
      messageOf(doc, { headers: { [FAILED_HEADERS.reason]: 'x', kept: 'yes' } }),
      'inventory_data',
    );
    expect(records.map((r) => [r.partition, r.offset, r.key, r.value, r.headers])).toEqual([
      [0, '100', 'test-key', 'test-value', { kept: 'yes' }],
      [0, '101', null, '{"id":"2"}', { kept: 'yes' }],
      [3, '7', '9', '{"id":"9"}', { kept: 'yes', 'correlation-id': 'c-9' }],
    ]);
    expect(records.every((r) => r.topic === 'inventory_data')).toBe(true);
  });

  it('takes the partition from the "<topic>-<partition>" key when a record does not carry it', () => {
    const doc = envelope();
    const [first] = doc.payload.records['my-topic-0'] ?? [];
    doc.payload.records = { 'my-topic-5': [{ ...first, partition: undefined }] };
    expect(decodeFailedMessages(messageOf(doc), 'customer_data')[0]?.partition).toBe(5);
  });

  it('keeps a value that is not base64 as it is, and a missing value as null, for the merge to quarantine', () => {
    const doc = envelope();
    const [first] = doc.payload.records['my-topic-0'] ?? [];
    doc.payload.records = {
      'my-topic-0': [
        { ...first, value: 'not base64!' },
        { ...first, value: null },
      ],
    };
    expect(decodeFailedMessages(messageOf(doc), 'customer_data').map((r) => r.value)).toEqual([
      'not base64!',
      null,
    ]);
  });

  it('is not taken for one without KafkaBatchInfo, requestContext or a records map: that message is one record', () => {
    const without = (change: (doc: Record<string, unknown>) => void) => {
      const doc = envelope() as unknown as Record<string, unknown>;
      change(doc);
      return doc;
    };
    for (const doc of [
      without((doc) => delete doc.KafkaBatchInfo),
      without((doc) => delete doc.requestContext),
      without((doc) => delete doc.payload),
      without((doc) => (doc.payload = { records: [] })),
      without((doc) => (doc.payload = { records: { 'my-topic-0': 'x' } })),
      without((doc) => (doc.payload = { records: { 'my-topic-0': [null] } })),
    ]) {
      const value = JSON.stringify(doc);
      const records = decodeFailedMessages(messageOf(doc), 'customer_data');
      expect(records, value).toHaveLength(1);
      expect(records[0]?.value, value).toBe(value);
    }
  });

  it('still reads what it read before: a record as published, and a single record in an envelope', () => {
    const plain = decodeFailedMessages(messageOf({ id: '1', name: 'Ada' }), 'customer_data');
    expect(plain).toHaveLength(1);
    expect(JSON.parse(plain[0]?.value ?? '')).toEqual({ id: '1', name: 'Ada' });
    const single = decodeFailedMessages(
      messageOf({ payload: { offset: 4, value: b64('{"id":"4"}') } }),
      'customer_data',
    );
    expect(single.map((r) => [r.offset, r.value])).toEqual([['4', '{"id":"4"}']]);
  });
});
