import { describe, expect, it } from 'vitest';
import { buildPayload, payloadHash } from '../../shared/domain/merge.ts';
import { parseSourceDefinitions } from '../../shared/sources/definition.ts';
import { defaultJoin, parseDuration, parseJoinDefinition } from '../../shared/sources/join.ts';
import { BUILT_IN_SOURCES } from '../../shared/sources/registry.ts';
import { aCustomer, aProduct } from '../support/factories.ts';

const THREE = parseSourceDefinitions([
  { name: 'crm', side: 'customer', path: '/customers' },
  { name: 'inventory', side: 'inventory', path: '/products' },
  { name: 'pricing', path: '/prices' },
]);

describe('the join declaration', () => {
  it('defaults to each source side, all required, the keyed payload and wait', () => {
    expect(defaultJoin(BUILT_IN_SOURCES)).toEqual({
      name: 'main',
      key: 'id',
      sideOf: { crm: 'customer', inventory: 'inventory' },
      sides: ['customer', 'inventory'],
      required: ['customer', 'inventory'],
      optional: [],
      payload: 'keyed',
      missing: { policy: 'wait' },
    });
  });

  it('reads sides, optional sides and the missing-side policy', () => {
    const join = parseJoinDefinition(
      { sides: { pricing: 'price' }, optional: ['price'], missing: 'emit after 10m' },
      THREE,
    );
    expect(join.sides).toEqual(['customer', 'inventory', 'price']);
    expect(join.required).toEqual(['customer', 'inventory']);
    expect(join.optional).toEqual(['price']);
    expect(join.missing).toEqual({ policy: 'emit', afterMs: 600_000 });
    expect(
      parseJoinDefinition({ sides: { pricing: 'price' }, missing: 'drop after 2h' }, THREE).missing,
    ).toEqual({ policy: 'drop', afterMs: 7_200_000 });
  });

  it.each([
    [{}, /sides.pricing is required: every source fills a side/],
    [{ sides: { pricing: 'customer' } }, /name "customer" for two sources/],
    [{ sides: { pricing: 'price', billing: 'bill' } }, /sides.billing names no source/],
    [
      { sides: { pricing: 'price' }, optional: ['tax'] },
      /optional names "tax", which is not a side/,
    ],
    [{ sides: { pricing: 'price' }, required: ['price'], optional: ['price'] }, /also required/],
    [
      { sides: { pricing: 'price' }, optional: ['customer', 'inventory', 'price'] },
      /required must name at least one side/,
    ],
    [
      { sides: { pricing: 'price' }, missing: 'emit after soon' },
      /missing must be "wait", "emit after <duration>"/,
    ],
    [{ sides: { pricing: 'price' }, missing: 'later' }, /missing must be/],
    [{ sides: { pricing: 'id' } }, /key "id" is also a side name/],
    [{ sides: { pricing: 'bad:side' } }, /sides.pricing must be a name/],
  ])('refuses %j with a message naming the field', (raw, message) => {
    expect(() => parseJoinDefinition(raw, THREE)).toThrow(message);
  });

  it('needs two or more sides', () => {
    const one = parseSourceDefinitions([{ name: 'crm', side: 'customer', path: '/c' }]);
    expect(() => parseJoinDefinition({}, one)).toThrow(/must name two or more sides, got 1/);
  });

  it('parses durations and refuses what it cannot read', () => {
    expect([parseDuration('500ms'), parseDuration('30s'), parseDuration('7d')]).toEqual([
      500, 30_000, 604_800_000,
    ]);
    expect(parseDuration('1 week')).toBeUndefined();
  });
});

describe('the payload, shaped by the join', () => {
  const sides = { customer: aCustomer('1'), inventory: aProduct('1') };

  it('is {id, customer, inventory} by default and {customer, inventory} with the sides shape', () => {
    const keyed = defaultJoin(BUILT_IN_SOURCES);
    expect(buildPayload(keyed, '1', { sides, emitted: false })).toEqual({ id: '1', ...sides });
    const original = parseJoinDefinition({ payload: 'sides' }, BUILT_IN_SOURCES);
    const payload = buildPayload(original, '1', { sides, emitted: false });
    expect(JSON.stringify(payload)).toBe(
      JSON.stringify({ customer: sides.customer, inventory: sides.inventory }),
    );
  });

  it('waits for required sides, includes optional ones when present, and nulls missing ones once emitted', () => {
    const join = parseJoinDefinition({ sides: { pricing: 'price' }, optional: ['price'] }, THREE);
    expect(
      buildPayload(join, '1', { sides: { customer: aCustomer('1') }, emitted: false }),
    ).toBeUndefined();
    expect(buildPayload(join, '1', { sides, emitted: false })).toEqual({ id: '1', ...sides });
    const price = { id: '1', amount: 3 };
    const withPrice = buildPayload(join, '1', { sides: { ...sides, price }, emitted: false });
    expect(withPrice).toEqual({ id: '1', ...sides, price });
    expect(payloadHash(withPrice ?? {})).not.toBe(payloadHash({ id: '1', ...sides }));
    expect(buildPayload(join, '1', { sides: { customer: aCustomer('1') }, emitted: true })).toEqual(
      {
        id: '1',
        customer: aCustomer('1'),
        inventory: null,
      },
    );
  });
});
