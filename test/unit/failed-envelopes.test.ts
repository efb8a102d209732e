import { describe, expect, it } from 'vitest';
import { decodeFailedMessage, type FailedMessage } from '../../shared/domain/failed-batch.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const inner = { id: '9', name: 'Stock', stock: 3 };
const base: FailedMessage = {
  partition: 1,
  offset: '70',
  timestamp: 1000,
  key: 'outer-key',
  value: null,
  headers: { 'correlation-id': 'c1' },
};
/** An MSK-event record as an envelope carries it. */
const record = (extra: Record<string, unknown> = {}) => ({
  offset: 55,
  value: b64(JSON.stringify(inner)),
  ...extra,
});
const decode = (envelope: unknown) =>
  decodeFailedMessage({ ...base, value: JSON.stringify(envelope) }, 'inventory_data');

describe('a failed record in a JSON envelope', () => {
  it('is found at the top level, under payload, under record, or first of records', () => {
    for (const envelope of [
      record(),
      { payload: record() },
      { record: record() },
      { records: [{ note: 'not a record' }, record()] },
    ]) {
      const decoded = decode(envelope);
      expect(JSON.parse(decoded.value ?? '')).toEqual(inner);
      expect(decoded.offset).toBe('55');
    }
  });

  it("falls back to the message's own partition, offset, timestamp and key where the envelope has none", () => {
    const decoded = decode(record({ offset: '56' }));
    expect(decoded).toMatchObject({
      topic: 'inventory_data',
      partition: 1,
      offset: '56',
      timestamp: 1000,
      key: 'outer-key',
      headers: { 'correlation-id': 'c1' },
    });
    expect(decode(record({ partition: '3', timestamp: 'soon', key: b64('9') }))).toMatchObject({
      partition: 3,
      timestamp: 1000,
      key: '9',
    });
    expect(decode(record({ partition: 'x', key: 7 }))).toMatchObject({
      partition: 1,
      key: 'outer-key',
    });
  });

  it('reads byte-array headers and skips what is not one', () => {
    const decoded = decode(
      record({
        headers: [
          null,
          'text',
          { 'fetched-at': [...Buffer.from('t0')], bad: 'x' },
          { n: [104, 105] },
        ],
      }),
    );
    expect(decoded.headers).toEqual({ 'correlation-id': 'c1', 'fetched-at': 't0', n: 'hi' });
    expect(decode(record({ headers: { not: 'an array' } })).headers).toEqual({
      'correlation-id': 'c1',
    });
  });

  it('is not taken for one when its value is not base64 or it has no offset', () => {
    for (const candidate of [
      { offset: 1, value: 'not base64!' },
      { offset: 1, value: '=abc' },
      { offset: 1, value: 'abc===' },
      { offset: 1, value: 42 },
      { value: b64('x') },
      { offset: null, value: b64('x') },
      { payload: 'text', record: 5 },
      [record()],
    ]) {
      const text = JSON.stringify(candidate);
      expect(decode(candidate).value, text).toBe(text);
    }
  });

  it('leaves a message whose value is JSON but not an object as it is', () => {
    for (const value of ['42', '"text"', 'null', 'true']) {
      expect(decodeFailedMessage({ ...base, value }, 'customer_data')).toMatchObject({
        value,
        key: 'outer-key',
        offset: '70',
      });
    }
  });
});
