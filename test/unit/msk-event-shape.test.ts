import { describe, expect, it } from 'vitest';
import { decodeMskEvent, encodeMskEvent } from '../../shared/domain/msk-event.ts';
import { aDecodedRecord } from '../support/decoded-records.ts';

const source = { eventSourceArn: 'arn:aws:kafka:x', bootstrapServers: 'b:9098' };

describe('the MSK event shape Lambda delivers', () => {
  it('is an aws:kafka event that leaves out the key and value of a record without them', () => {
    const record = aDecodedRecord('customer_data', null, { key: null, headers: {} });
    const event = encodeMskEvent([record], source);
    expect(event).toMatchObject({ eventSource: 'aws:kafka', ...source });
    const [entry] = event.records['customer_data-0'] ?? [];
    expect(entry).not.toHaveProperty('key');
    expect(entry).not.toHaveProperty('value');
    expect(decodeMskEvent(event)).toEqual([record]);
  });

  it('decodes a record with an empty value as empty text, not as a missing one', () => {
    const record = aDecodedRecord('customer_data', '', { key: 'k', headers: { a: 'b' } });
    const [decoded] = decodeMskEvent(encodeMskEvent([record], source));
    expect(decoded?.value).toBe('');
    expect(decoded?.key).toBe('k');
  });

  it('reads an event without records as empty', () => {
    expect(decodeMskEvent({ ...encodeMskEvent([], source), records: undefined as never })).toEqual(
      [],
    );
  });
});
