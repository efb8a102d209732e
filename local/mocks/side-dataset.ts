import type { MockRecord } from './dataset.ts';

/**
 * Sample records for a side the CRM and Inventory mocks do not serve (the third source of
 * examples/three-sources.json): ids 1..count less every eleventh, so some ids stay pending.
 * A `price` side gets prices; any other side a generic value.
 */
export function sampleSideRecords(side: string, count: number): MockRecord[] {
  const records: MockRecord[] = [];
  for (let i = 1; i <= count; i++) {
    if (i % 11 === 0) continue;
    records.push(
      side === 'price'
        ? {
            id: String(i),
            amount: Math.round(((i * 7919) % 100_000) / 10) / 10,
            currency: 'EUR',
            updatedAt: null,
          }
        : { id: String(i), [side]: `${side} ${i}`, updatedAt: null },
    );
  }
  return records;
}
