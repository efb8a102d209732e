import { describe, expect, it } from 'vitest';
import {
  decodeFailedMessage,
  FAILED_HEADERS,
  type FailedMessage,
  failedTopicOf,
} from '../../shared/domain/failed-batch.ts';

const base: FailedMessage = {
  partition: 0,
  offset: '7',
  timestamp: 1000,
  key: '42',
  value: JSON.stringify({ id: '42', name: 'Ada' }),
  headers: {},
};
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('failed batch records', () => {
  it('name one on-failure topic per source topic', () => {
    expect(failedTopicOf('customer_data')).toBe('failed_customer_data');
  });

  it('read a record written as published, on the source topic given, without failure headers', () => {
    const record = decodeFailedMessage(
      {
        ...base,
        headers: {
          'correlation-id': 'c',
          [FAILED_HEADERS.offset]: '120',
          [FAILED_HEADERS.partition]: '2',
          [FAILED_HEADERS.reason]: 'boom',
        },
      },
      'run.customer_data',
    );
    expect(record).toEqual({
      topic: 'run.customer_data',
      partition: 2,
      offset: '120',
      timestamp: 1000,
      key: '42',
      value: base.value,
      headers: { 'correlation-id': 'c' },
    });
  });

  it('read an MSK-event record inside a JSON envelope (base64 key, value, byte headers)', () => {
    const inner = { id: '9', name: 'Stock', stock: 3 };
    const envelope = {
      requestContext: { condition: 'RetryAttemptsExhausted' },
      payload: {
        topic: 'inventory_data',
        partition: 4,
        offset: 55,
        timestamp: 2000,
        key: b64('9'),
        value: b64(JSON.stringify(inner)),
        headers: [{ 'fetched-at': [...Buffer.from('t0')] }],
      },
    };
    const record = decodeFailedMessage(
      { ...base, key: null, value: JSON.stringify(envelope) },
      'inventory_data',
    );
    expect(record).toMatchObject({
      topic: 'inventory_data',
      partition: 4,
      offset: '55',
      timestamp: 2000,
      key: '9',
      headers: { 'fetched-at': 't0' },
    });
    expect(JSON.parse(record.value ?? '')).toEqual(inner);
  });

  it('pass anything else on unchanged, for the merge to quarantine with its reason', () => {
    for (const value of ['not json', '{"broken": ', null, JSON.stringify({ value: 'x y' })]) {
      expect(decodeFailedMessage({ ...base, value }, 'customer_data').value).toBe(value);
    }
  });
});
