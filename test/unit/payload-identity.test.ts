import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../shared/domain/merge.ts';
import { parseRetryAfter } from '../../shared/domain/retry-policy.ts';

describe('canonical JSON, the text a payload identity is hashed from', () => {
  it('sorts keys inside arrays and nested objects too, and keeps array order', () => {
    const a = { list: [{ b: 1, a: [{ d: 1, c: 2 }] }, 'x'], z: { y: 1, x: null } };
    const b = { z: { x: null, y: 1 }, list: [{ a: [{ c: 2, d: 1 }], b: 1 }, 'x'] };
    expect(canonicalJson(a)).toBe(
      '{"list":[{"a":[{"c":2,"d":1}],"b":1},"x"],"z":{"x":null,"y":1}}',
    );
    expect(canonicalJson(b)).toBe(canonicalJson(a));
    expect(canonicalJson({ list: ['x', { b: 1 }] })).not.toBe(
      canonicalJson({ list: [{ b: 1 }, 'x'] }),
    );
  });

  it('leaves out undefined fields, as JSON does', () => {
    expect(canonicalJson({ b: undefined, a: 1 })).toBe('{"a":1}');
  });
});

describe('Retry-After', () => {
  it('ignores a blank header instead of reading it as "retry now"', () => {
    expect(parseRetryAfter('   ')).toBeUndefined();
    expect(parseRetryAfter('0')).toBe(0);
  });
});
