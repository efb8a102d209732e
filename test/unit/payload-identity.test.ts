import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../local/mocks/dataset.ts';
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

  it('puts array-index keys first in numeric order, as an object built from sorted keys does', () => {
    expect(canonicalJson({ b: 1, 10: 'x', a: 2, 2: 'y', '02': 'z' })).toBe(
      '{"2":"y","10":"x","02":"z","a":2,"b":1}',
    );
  });

  it('gives the same text as sorting copies of the objects and stringifying them (the identity of every payload delivered so far)', () => {
    const random = seededRandom(7);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const keys = ['id', 'a', 'B', 'b', '_e', 'é', '10', '2', '0', 'z:v', ''];
    const anyValue = (depth: number): unknown => {
      const kind = pick(depth > 2 ? ['s', 'n', 'b', 'z'] : ['s', 'n', 'b', 'z', 'o', 'a', 'u']);
      if (kind === 's') return pick(['', 'x', 'line\nbreak', 'quote"d', '\u2028', 'ü']);
      if (kind === 'n') return pick([0, -1.5, 1e21, 42, Number.NaN, -0]);
      if (kind === 'b') return random() < 0.5;
      if (kind === 'z') return null;
      if (kind === 'u') return undefined;
      if (kind === 'a')
        return Array.from({ length: Math.floor(random() * 4) }, () => anyValue(depth + 1));
      return Object.fromEntries(
        Array.from({ length: Math.floor(random() * 5) }, () => [pick(keys), anyValue(depth + 1)]),
      );
    };
    for (let run = 0; run < 500; run++) {
      const value = { [pick(keys)]: anyValue(0), id: String(run) };
      expect(canonicalJson(value)).toBe(sortedCopyJson(value));
    }
  });
});

/** The earlier canonical JSON: sorted copies of every object, then JSON.stringify. */
function sortedCopyJson(value: unknown): string {
  const sortKeys = (inner: unknown): unknown => {
    if (Array.isArray(inner)) return inner.map(sortKeys);
    if (inner !== null && typeof inner === 'object') {
      const entries = Object.entries(inner as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
    }
    return inner;
  };
  return JSON.stringify(sortKeys(value)) ?? 'undefined';
}

describe('Retry-After', () => {
  it('ignores a blank header instead of reading it as "retry now"', () => {
    expect(parseRetryAfter('   ')).toBeUndefined();
    expect(parseRetryAfter('0')).toBe(0);
  });
});
