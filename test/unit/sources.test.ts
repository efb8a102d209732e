import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../shared/adapters/rate-limit.ts';
import { parseCredentials } from '../../shared/adapters/source-auth.ts';
import { loadFetchConfig } from '../../shared/config.ts';
import { formatSince, nextCursor, sinceThreshold } from '../../shared/domain/sync.ts';
import { ConfigError } from '../../shared/errors.ts';
import { parseSourceDefinitions } from '../../shared/sources/definition.ts';
import { firstPageUrl, nextLink, parsePage } from '../../shared/sources/page.ts';
import { SOURCES } from '../../shared/sources/registry.ts';

const define = (entry: Record<string, unknown>) => {
  const [source] = parseSourceDefinitions([
    { name: 's', side: 'customer', url: 'http://h/r', ...entry },
  ]);
  if (!source) throw new Error('no source');
  return source;
};
const page = (source: ReturnType<typeof define>, url: string, body: unknown, link?: string) =>
  parsePage(source, { url, body: JSON.stringify(body), link }, 2);

describe('source definitions', () => {
  it('defaults read a plain array as one complete page', () => {
    const source = define({});
    expect(source).toMatchObject({
      topic: 's_data',
      id: { path: 'id', numbers: 'string' },
      pagination: { style: 'none' },
      auth: { type: 'none' },
    });
    expect(page(source, 'http://h/r', [{ id: '1' }, { id: '2' }, { id: '3' }])).toEqual({
      items: [{ id: '1' }, { id: '2' }, { id: '3' }],
      next: null,
    });
  });

  it('the bundled CRM definition reads the original plain array and the paged envelope', () => {
    const url = 'http://h/customers?page=1&pageSize=2';
    expect(parsePage(SOURCES.crm, { url, body: '[{"id":"1","phone":"5"}]' }, 2)).toEqual({
      items: [{ id: '1', phone: '5' }],
      next: null,
    });
    expect(
      parsePage(SOURCES.crm, { url, body: '{"items":[{"id":"1"}],"nextPage":2,"total":3}' }, 2),
    ).toEqual({ items: [{ id: '1' }], next: 'http://h/customers?page=2&pageSize=2', total: 3 });
  });

  it('names the source and the field of a bad definition', () => {
    const bad = (entry: Record<string, unknown>) => {
      try {
        define(entry);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('no error');
    };
    expect(bad({ pagination: { style: 'pages' } })).toMatch(/source "s": pagination.style /);
    expect(bad({ auth: { type: 'apiKey', in: 'cookie', name: 'k' } })).toMatch(
      /source "s": auth.in /,
    );
    expect(bad({ url: undefined })).toMatch(/source "s": url is required/);
    expect(bad({ records: 'a..b' })).toMatch(/source "s": records must be a dotted field path/);
    expect(bad({ id: { path: 'id', numbers: 'guess' } })).toMatch(/source "s": id.numbers /);
    expect(bad({ change: { path: 'updatedAt', kind: 'date' } })).toMatch(
      /source "s": change.kind /,
    );
    expect(bad({ pagination: { style: 'offset', size: 0 } })).toMatch(
      /source "s": pagination.size /,
    );
    expect(bad({ auth: { type: 'oauth2', tokenUrl: 'ftp://h/token' } })).toMatch(
      /source "s": auth.tokenUrl must be an http\(s\) URL/,
    );
    expect(bad({ rateLimit: -1 })).toMatch(/source "s": rateLimit /);
    expect(() =>
      parseSourceDefinitions([
        { name: 'a', side: 'customer', url: 'http://h' },
        { name: 'a', side: 'inventory', url: 'http://h' },
      ]),
    ).toThrow('source "a": name "a" is used by two sources');
  });

  it('names the source and the field of a bad sync token declaration', () => {
    const message = (entry: Record<string, unknown>) => {
      try {
        define(entry);
        return 'no error';
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
    };
    expect(message({ syncToken: { path: 'sync..token', param: 'token' } })).toMatch(
      /source "s": syncToken.path must be a dotted field path/,
    );
    expect(message({ syncToken: { path: 'syncToken' } })).toContain(
      'source "s": syncToken.param is required',
    );
    expect(
      message({
        syncToken: { path: 'syncToken', param: 'token' },
        change: { path: 'updatedAt', param: 'since' },
      }),
    ).toMatch(/source "s": syncToken cannot be declared with change.param/);
    expect(
      message({
        syncToken: { path: 'syncToken', param: 'cursor' },
        pagination: { style: 'cursor' },
      }),
    ).toContain('source "s": syncToken.param is the pagination cursorParam too; they must differ');
    // A change field without a param is only the records' version: allowed with a sync token.
    expect(
      define({ syncToken: { path: 'meta.sync', param: 'token' }, change: { path: 'updatedAt' } }),
    ).toMatchObject({ syncToken: { path: 'meta.sync', param: 'token' } });
  });

  it('stops the fetch function at start-up with a line naming the source and the field', () => {
    const env = (sources: unknown[]) => ({
      KAFKA_BROKERS: 'k:9092',
      SOURCE: 'crm',
      PIPELINE_SOURCES: JSON.stringify(sources),
    });
    const crm = { name: 'crm', side: 'customer', url: 'http://h/r' };
    const cases: [unknown[], RegExp][] = [
      [[{ ...crm, pagination: { style: 'link', size: 'ten' } }], /source "crm": pagination.size /],
      [[{ ...crm, required: [{ path: 'email', type: 'text' }] }], /source "crm": required.0.type /],
      [[{ ...crm, url: 'crm.example.com' }], /source "crm": url must be an http\(s\) URL/],
      [[{ ...crm, syncToken: { path: 'next', param: 'a b' } }], /source "crm": syncToken.param /],
      [
        [crm, { ...crm, name: 'other', topic: 'crm_data' }],
        /source "other": topic "crm_data" is used/,
      ],
    ];
    for (const [sources, expected] of cases) {
      expect(() => loadFetchConfig(env(sources))).toThrow(expected);
    }
  });

  it('says at start-up when a source that needs a secret has none', () => {
    const env = {
      KAFKA_BROKERS: 'k:9092',
      SOURCE: 's',
      PIPELINE_SOURCES: JSON.stringify([
        { name: 's', side: 'customer', url: 'http://h/r', auth: { type: 'basic' } },
      ]),
    };
    expect(() => loadFetchConfig(env)).toThrow(/source "s": auth.type "basic" needs a secret/);
    expect(
      loadFetchConfig({ ...env, SOURCE_SECRET: '{"username":"u","password":"p"}' }),
    ).toMatchObject({
      endpoint: 'http://h/r',
      secret: { text: '{"username":"u","password":"p"}' },
    });
    expect(() => loadFetchConfig({ ...env, SOURCE: 'crm' })).toThrow('SOURCE must be one of s');
  });
});

describe('pagination', () => {
  it('pages by number until the declared next field is null', () => {
    const source = define({ records: 'data', pagination: { style: 'page', next: 'more' } });
    const first = firstPageUrl(source, 'http://h/r', 2);
    expect(first).toBe('http://h/r?page=1&pageSize=2');
    expect(page(source, first, { data: [1, 2], more: 2 }).next).toBe(
      'http://h/r?page=2&pageSize=2',
    );
    expect(page(source, first, { data: [1], more: null }).next).toBeNull();
    expect(() => page(source, first, { data: [], more: 1 })).toThrow(
      /neither null nor a page number after 1/,
    );
  });

  it('pages by offset while pages are full, and stops when the source ignores the limit', () => {
    const source = define({ pagination: { style: 'offset' } });
    const first = firstPageUrl(source, 'http://h/r', 2);
    expect(page(source, first, [1, 2]).next).toBe('http://h/r?offset=2&limit=2');
    expect(page(source, first, [1]).next).toBeNull();
    expect(page(source, first, [1, 2, 3]).next).toBeNull();
  });

  it('follows a cursor token in the body, and sends the change parameter', () => {
    const source = define({
      records: 'data',
      pagination: { style: 'cursor', next: 'meta.next', sizeParam: 'limit' },
      change: { path: 'updatedAt', param: 'since' },
    });
    const first = firstPageUrl(source, 'http://h/r', 2, '2025-01-01T00:00:00.000Z');
    expect(first).toBe('http://h/r?limit=2&since=2025-01-01T00%3A00%3A00.000Z');
    expect(page(source, first, { data: [], meta: { next: 'abc' } }).next).toBe(
      'http://h/r?limit=2&since=2025-01-01T00%3A00%3A00.000Z&cursor=abc',
    );
    expect(page(source, first, { data: [], meta: { next: null } }).next).toBeNull();
  });

  it('follows RFC 8288 Link rel=next on the same host only', () => {
    const base = new URL('http://h/r?page=1');
    expect(nextLink('<http://h/r?page=2>; rel="next", <http://h/r?page=9>; rel="last"', base)).toBe(
      'http://h/r?page=2',
    );
    expect(nextLink('</r?page=3>; rel=next', base)).toBe('http://h/r?page=3');
    expect(nextLink('<http://h/r?page=1>; rel="prev"', base)).toBeNull();
    expect(() => nextLink('<http://evil/r?page=2>; rel="next"', base)).toThrow(/refused/);
  });

  it('reads the sync token of a page, and sends a saved one on the first page', () => {
    const source = define({
      records: 'data',
      pagination: { style: 'page', next: 'next' },
      syncToken: { path: 'meta.sync', param: 'syncToken' },
    });
    expect(firstPageUrl(source, 'http://h/r', 2)).toBe('http://h/r?page=1&pageSize=2');
    const first = firstPageUrl(source, 'http://h/r', 2, undefined, 'tok/1');
    expect(first).toBe('http://h/r?page=1&pageSize=2&syncToken=tok%2F1');
    expect(page(source, first, { data: [], next: 2, meta: { sync: null } })).toEqual({
      items: [],
      next: 'http://h/r?page=2&pageSize=2&syncToken=tok%2F1',
    });
    expect(page(source, first, { data: [], next: null, meta: { sync: 'tok/2' } })).toMatchObject({
      syncToken: 'tok/2',
    });
    expect(page(source, first, { data: [], next: null, meta: { sync: 42 } }).syncToken).toBe('42');
    expect(() => page(source, first, { data: [], next: null, meta: { sync: { t: 1 } } })).toThrow(
      'field "meta.sync" (the sync token) is neither a string nor null',
    );
    // The token is not asked of a source that does not declare one.
    const plain = define({ records: 'data' });
    expect(firstPageUrl(plain, 'http://h/r', 2, undefined, 'tok')).toBe('http://h/r');
  });

  it('says what is wrong with a malformed page', () => {
    const source = define({ records: 'items' });
    expect(() => parsePage(source, { url: 'http://h/r', body: '{"items":[{"id":' }, 2)).toThrow(
      /body is not JSON/,
    );
    expect(() => page(source, 'http://h/r', { data: [] })).toThrow('field "items" is not an array');
    expect(() => page(define({}), 'http://h/r', { data: [] })).toThrow(/declares no records path/);
  });
});

describe('incremental sync helpers', () => {
  it('starts an overlap window before the cursor, and never moves the cursor back', () => {
    const rule = { kind: 'timestamp' as const, overlap: 60 };
    const cursor = Date.parse('2025-01-01T00:01:00Z');
    expect(formatSince(rule, sinceThreshold(rule, cursor))).toBe('2025-01-01T00:00:00.000Z');
    expect(
      formatSince(
        { kind: 'number', overlap: 5 },
        sinceThreshold({ kind: 'number', overlap: 5 }, 100),
      ),
    ).toBe('95');
    expect(nextCursor(10, 5)).toBe(10);
    expect(nextCursor(10, null)).toBe(10);
    expect(nextCursor(null, 7)).toBe(7);
  });
});

describe('credentials and rate limit', () => {
  it('reads a JSON secret or a plain token', () => {
    expect(parseCredentials('abc')).toEqual({ token: 'abc' });
    expect(parseCredentials('{"clientId":"i","clientSecret":"s","x":1}')).toEqual({
      clientId: 'i',
      clientSecret: 's',
    });
  });

  it('spaces requests at the declared rate', async () => {
    let clock = 1_000;
    const waits: number[] = [];
    const limiter = new RateLimiter(
      4,
      async (ms) => {
        waits.push(ms);
      },
      () => clock,
    );
    await Promise.all([limiter.take(), limiter.take(), limiter.take()]);
    expect(waits).toEqual([250, 500]);
    clock += 2_000;
    await limiter.take();
    expect(waits).toEqual([250, 500]);
  });
});
