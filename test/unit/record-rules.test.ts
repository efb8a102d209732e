import { describe, expect, it } from 'vitest';
import { canonicalJson, payloadHash } from '../../shared/domain/merge.ts';
import {
  checkRecord,
  type FieldType,
  type RecordRules,
  sizeProblem,
} from '../../shared/domain/records.ts';
import { nextCursor } from '../../shared/domain/sync.ts';

const rules = (
  type: FieldType,
  id: RecordRules['id'] = { path: 'id', numbers: 'reject' },
): RecordRules => ({ id, required: [{ path: 'f', type }] });

/** The reason a record `{id: '1', f: value}` is refused for a field of this type, or 'ok'. */
function verdict(type: FieldType, value: unknown): string {
  const check = checkRecord(rules(type), { id: '1', f: value });
  return check.ok ? 'ok' : check.reason;
}

describe('a required field of each declared type', () => {
  it.each([
    ['any', 0, 'ok'],
    ['any', false, 'ok'],
    ['any', null, 'f: is required'],
    ['any', undefined, 'f: is required'],
    ['string', 'x', 'ok'],
    ['string', '', 'f: must not be empty'],
    ['string', 5, 'f: must be a string, got number 5'],
    ['number', 1.5, 'ok'],
    ['number', '1.5', 'f: must be a number, got "1.5"'],
    ['number', Number.POSITIVE_INFINITY, 'f: must be a number, got number Infinity'],
    ['integer', 3, 'ok'],
    ['integer', 1.5, 'f: must be an integer, got number 1.5'],
    ['boolean', false, 'ok'],
    ['boolean', 'true', 'f: must be a boolean, got "true"'],
    ['boolean', 0, 'f: must be a boolean, got number 0'],
    ['array', [], 'ok'],
    ['array', {}, 'f: must be an array, got an object'],
    ['object', {}, 'ok'],
    ['object', [], 'f: must be an object, got an array'],
    ['object', 'x', 'f: must be an object, got "x"'],
    ['object', true, 'f: must be an object, got boolean true'],
  ] as [FieldType, unknown, string][])('%s given %j: %s', (type, value, expected) => {
    expect(verdict(type, value)).toBe(expected);
  });

  it('quotes a long string value cut at 40 characters', () => {
    const forty = 'a'.repeat(40);
    expect(verdict('number', forty)).toBe(`f: must be a number, got "${forty}"`);
    expect(verdict('number', `${forty}b`)).toBe(`f: must be a number, got "${forty}…"`);
  });

  it('reads a dotted path, and a step through a value that is not an object finds nothing', () => {
    const nested: RecordRules = { id: { path: 'id', numbers: 'reject' }, required: [] };
    const deep = { ...nested, required: [{ path: 'a.b.c', type: 'number' as const }] };
    expect(checkRecord(deep, { id: '1', a: { b: { c: 2 } } }).ok).toBe(true);
    expect(checkRecord(deep, { id: '1', a: 'text' })).toEqual({
      ok: false,
      reason: 'a.b.c: is required',
      id: '1',
    });
    expect(checkRecord(deep, { id: '1', a: { b: null } })).toMatchObject({
      reason: 'a.b.c: is required',
    });
  });

  it('names at most five failing fields', () => {
    const many: RecordRules = {
      id: { path: 'id', numbers: 'reject' },
      required: ['a', 'b', 'c', 'd', 'e', 'f'].map((path) => ({ path, type: 'any' as const })),
    };
    expect(checkRecord(many, { id: '1' })).toEqual({
      ok: false,
      reason: 'a: is required; b: is required; c: is required; d: is required; e: is required',
      id: '1',
    });
  });
});

describe('the record and its id', () => {
  it('refuses a record that is not a JSON object, describing what it is', () => {
    const rule = rules('any');
    expect(checkRecord(rule, null)).toEqual({
      ok: false,
      reason: 'record is null, not a JSON object',
    });
    expect(checkRecord(rule, [1])).toMatchObject({
      reason: 'record is an array, not a JSON object',
    });
    expect(checkRecord(rule, 'x')).toMatchObject({ reason: 'record is "x", not a JSON object' });
    expect(checkRecord(rule, 7)).toMatchObject({ reason: 'record is number 7, not a JSON object' });
  });

  it('refuses an id that is blank, not a string, fractional or too long', () => {
    const strings: RecordRules = { id: { path: 'id', numbers: 'string' }, required: [] };
    expect(checkRecord(strings, { id: '  ' })).toEqual({
      ok: false,
      reason: 'id: must be a non-empty string, got "  "',
    });
    expect(checkRecord(strings, { id: true })).toMatchObject({
      reason: 'id: must be a non-empty string, got boolean true',
    });
    expect(checkRecord(strings, { id: { nested: 1 } })).toMatchObject({
      reason: 'id: must be a non-empty string, got an object',
    });
    expect(checkRecord(strings, { id: 1.5 })).toEqual({
      ok: false,
      reason: 'id: 1.5 is not an integer',
    });
    expect(checkRecord(strings, { id: 42 })).toMatchObject({ ok: true, id: '42' });
    expect(checkRecord(strings, { id: -3 })).toMatchObject({ ok: true, id: '-3' });
    expect(checkRecord(strings, { id: 0 })).toMatchObject({ ok: true, id: '0' });
    expect(checkRecord(strings, { id: 'x'.repeat(128) })).toMatchObject({ ok: true });
    expect(checkRecord(strings, { id: 'x'.repeat(129) })).toEqual({
      ok: false,
      reason: 'id: id is longer than 128 characters',
    });
  });
});

describe('the change value and the size limit', () => {
  /** The change value `checkRecord` reads from `{id: '1', v: value}`, or its reason. */
  const readChange = (kind: 'timestamp' | 'number', value: unknown) => {
    const check = checkRecord(
      { id: { path: 'id', numbers: 'reject' }, required: [], change: { path: 'v', kind } },
      { id: '1', v: value },
    );
    return check.ok ? check.change : check.reason;
  };

  it('reads a number change, and refuses one that is not a finite number', () => {
    expect(readChange('number', 12)).toBe(12);
    expect(readChange('number', null)).toBeNull();
    expect(readChange('number', undefined)).toBeNull();
    expect(readChange('number', '12')).toBe('v: must be a number, got "12"');
    expect(readChange('number', Number.NaN)).toBe('v: must be a number, got number NaN');
  });

  it('reads an ISO-8601 timestamp as milliseconds, and refuses a number or free text', () => {
    expect(readChange('timestamp', '2026-01-02T03:04:05Z')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(readChange('timestamp', 1_700_000_000_000)).toBe(
      'v: must be an ISO-8601 timestamp, got number 1700000000000',
    );
    expect(readChange('timestamp', 'yesterday')).toBe(
      'v: must be an ISO-8601 timestamp, got "yesterday"',
    );
  });

  it('refuses a record only when it is over the limit, not at it', () => {
    expect(sizeProblem(10, 10)).toBeUndefined();
    expect(sizeProblem(11, 10)).toBe('record is 11 bytes, over the 10-byte limit');
  });
});

describe('identity and cursors', () => {
  it('gives equal payloads with keys in another order the same canonical JSON and hash', () => {
    const one = { id: '1', b: { y: 1, x: [{ d: 1, c: 2 }] }, a: 'z' };
    const two = { a: 'z', b: { x: [{ c: 2, d: 1 }], y: 1 }, id: '1' };
    expect(canonicalJson(one)).toBe('{"a":"z","b":{"x":[{"c":2,"d":1}],"y":1},"id":"1"}');
    expect(canonicalJson(two)).toBe(canonicalJson(one));
    expect(payloadHash(one)).toBe(payloadHash(two));
    expect(canonicalJson({ c: 1, a: 2, d: 3, b: 4, u: undefined })).toBe(
      '{"a":2,"b":4,"c":1,"d":3}',
    );
  });

  it('moves a cursor only forwards, negative values included, and keeps it when nothing was seen', () => {
    expect(nextCursor(null, null)).toBeNull();
    expect(nextCursor(-5, null)).toBe(-5);
    expect(nextCursor(null, -3)).toBe(-3);
    expect(nextCursor(5, 3)).toBe(5);
    expect(nextCursor(5, 8)).toBe(8);
  });

  it('takes a JSON integer id as its decimal string, the same id as the string', () => {
    const strings: RecordRules = { id: { path: 'id', numbers: 'string' }, required: [] };
    const fromNumber = checkRecord(strings, JSON.parse('{"id": 1, "updatedAt": null}'));
    const fromString = checkRecord(strings, JSON.parse('{"id": "1", "updatedAt": null}'));
    expect(fromNumber).toMatchObject({ ok: true, id: '1' });
    expect(fromString).toMatchObject({ ok: true, id: '1' });
    expect(checkRecord(strings, { id: Number.MAX_SAFE_INTEGER })).toMatchObject({
      ok: true,
      id: '9007199254740991',
    });
    expect(checkRecord(strings, { id: -Number.MAX_SAFE_INTEGER })).toMatchObject({ ok: true });
  });

  it('quarantines an integer id past the safe range, whose digits JSON.parse rounded', () => {
    const strings: RecordRules = { id: { path: 'id', numbers: 'string' }, required: [] };
    // 9007199254740993 parses as 9007199254740992: accepting it would name another id.
    const check = checkRecord(strings, JSON.parse('{"id": 9007199254740993}'));
    expect(check).toEqual({
      ok: false,
      reason:
        'id: 9007199254740992 is outside the safe integer range (±9007199254740991), so its digits may have been rounded; send it as a string',
    });
    expect(checkRecord(strings, { id: -(2 ** 60) })).toMatchObject({ ok: false });
    expect(checkRecord(strings, { id: 1e300 })).toMatchObject({ ok: false });
  });

  it('quarantines a number id when the source declares id.numbers "reject"', () => {
    const strict: RecordRules = { id: { path: 'id', numbers: 'reject' }, required: [] };
    expect(checkRecord(strict, { id: 1 })).toEqual({
      ok: false,
      reason: 'id: is the number 1; this source declares id.numbers "reject" (string ids only)',
    });
    expect(checkRecord(strict, { id: '1' })).toMatchObject({ ok: true, id: '1' });
  });
});
