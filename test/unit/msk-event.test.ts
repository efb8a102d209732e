import { readFileSync } from 'node:fs';
import type { MSKEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { decodeMskEvent, encodeMskEvent } from '../../shared/domain/msk-event.ts';

const fixture = JSON.parse(
  readFileSync(new URL('../events/msk-event.json', import.meta.url), 'utf8'),
) as MSKEvent;

describe('MSK events', () => {
  it('decodes base64 keys and values and byte-array headers, and tolerates a missing key', () => {
    const [first, second] = decodeMskEvent(structuredClone(fixture));
    expect(first).toMatchObject({
      topic: 'customer_data',
      partition: 0,
      offset: '15',
      key: '1',
      headers: { 'correlation-id': 'c-1', 'fetched-at': '2025-11-25T10:00:00Z' },
    });
    expect(JSON.parse(first?.value ?? '')).toMatchObject({ id: '1', email: 'ada@example.com' });
    expect(second).toMatchObject({ key: null, value: 'not json', headers: {} });
  });

  it('encodes records into the shape it decodes, grouped by topic-partition', () => {
    const records = decodeMskEvent(structuredClone(fixture));
    const event = encodeMskEvent(records, {
      eventSourceArn: fixture.eventSourceArn,
      bootstrapServers: fixture.bootstrapServers,
    });
    expect(Object.keys(event.records)).toEqual(['customer_data-0']);
    expect(event.records['customer_data-0']?.[1]).not.toHaveProperty('key');
    expect(decodeMskEvent(event)).toEqual(records);
  });
});
