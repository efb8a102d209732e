import { describe, expect, it } from 'vitest';
import {
  buildMergedPayload,
  canonicalJson,
  lastAppearances,
  payloadHash,
  recordVersion,
} from '../../shared/domain/merge.ts';
import { backoffDelay, parseRetryAfter } from '../../shared/domain/retry-policy.ts';
import { aCustomer, aProduct } from '../support/factories.ts';

describe('canonical JSON and the payload hash', () => {
  it('gives the same hash whatever the key order', () => {
    const a = { id: '1', customer: aCustomer('1'), inventory: aProduct('1') };
    const b = {
      inventory: { ...aProduct('1') },
      customer: Object.fromEntries(Object.entries(aCustomer('1')).reverse()) as typeof a.customer,
      id: '1',
    };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(payloadHash(a)).toBe(payloadHash(b));
    expect(payloadHash(a)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives a different hash when any field changes', () => {
    const a = { id: '1', customer: aCustomer('1'), inventory: aProduct('1') };
    const b = { ...a, inventory: { ...a.inventory, stock: a.inventory.stock + 1 } };
    expect(payloadHash(a)).not.toBe(payloadHash(b));
  });
});

describe('join helpers', () => {
  it('builds a payload only when both sides are present', () => {
    expect(buildMergedPayload('1', { customer: aCustomer('1') })).toBeUndefined();
    expect(buildMergedPayload('1', { customer: aCustomer('1'), inventory: aProduct('1') })).toEqual(
      {
        id: '1',
        customer: aCustomer('1'),
        inventory: aProduct('1'),
      },
    );
  });

  it('finds the last appearance of each id, in batch order', () => {
    expect([...lastAppearances(['a', 'b', 'a', 'c', 'b'])]).toEqual([
      ['a', 2],
      ['b', 4],
      ['c', 3],
    ]);
  });

  it('versions a record by its change value, else by fetch time', () => {
    expect(recordVersion(Date.parse('2025-01-01T00:00:00Z'), 5)).toBe(
      Date.parse('2025-01-01T00:00:00Z'),
    );
    expect(recordVersion(null, 5)).toBe(5);
  });
});

describe('retry policy', () => {
  const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000, timeoutMs: 1000 };

  it('draws full jitter under an exponential ceiling', () => {
    expect(backoffDelay(policy, 1, undefined, () => 0.999)).toBe(99);
    expect(backoffDelay(policy, 3, undefined, () => 0.999)).toBe(399);
    expect(backoffDelay(policy, 10, undefined, () => 0.999)).toBe(999);
    expect(backoffDelay(policy, 3, undefined, () => 0)).toBe(0);
  });

  it('waits at least as long as Retry-After asks, within the cap', () => {
    expect(backoffDelay(policy, 1, 700, () => 0)).toBe(700);
    expect(backoffDelay(policy, 1, 5000, () => 0)).toBe(1000);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(
      parseRetryAfter('Wed, 25 Nov 2026 10:00:05 GMT', Date.parse('2026-11-25T10:00:00Z')),
    ).toBe(5000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
