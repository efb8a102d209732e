import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MockRecord } from './dataset.ts';

/** How a styled mock pages its listing. */
export type MockPaging = 'none' | 'page' | 'offset' | 'cursor' | 'link';
/** How a styled mock wants to be called. */
export type MockAuth = 'none' | 'bearer' | 'apiKeyHeader' | 'apiKeyQuery' | 'basic' | 'oauth2';

export type StyledSourceOptions = {
  paging: MockPaging;
  auth?: MockAuth;
  /** The records, read at each request (the caller may change them between runs). */
  records: MockRecord[];
  /** Query parameter filtering on `updatedAt` >= value (ISO-8601), when set. */
  changeParam?: string;
  /**
   * Query parameter of a sync token, when set (page and cursor paging only: the token is a field
   * of the envelope). The listing's last page carries `syncToken`; sent back, it lists only the
   * records changed (`updatedAt` later) since that listing.
   */
  syncTokenParam?: string;
  /**
   * Every page of a listing carries its sync token, not only the last (APIs that put the sync
   * cursor in each page): a client that saves it before the last page claims a whole sync.
   */
  syncTokenEveryPage?: boolean;
  /** Lifetime of an OAuth2 token, in seconds (default 3600). */
  tokenSeconds?: number;
  /** Answer every cursor page with this same next cursor (a loop), for fault tests. */
  loopCursor?: boolean;
  /** Put the Link rel=next on this other origin, for fault tests. */
  foreignLinkOrigin?: string;
  /** After this many list answers, every OAuth2 token issued so far expires (once), for fault tests. */
  expireTokensAfter?: number;
  /**
   * Answer this page number (page and link paging) with an endless-looking page of about
   * `bytes`, streamed without Content-Length and written only as fast as the client reads, for
   * fault tests of the page-size cap.
   */
  hugePage?: { page: number; bytes: number };
};

/** The credentials every styled mock accepts. */
export const MOCK_CREDENTIALS = {
  token: 'mock-token',
  username: 'mock-user',
  password: 'mock-password',
  clientId: 'mock-client',
  clientSecret: 'mock-secret',
};

/**
 * A source API in any of the pagination styles and auth types a source definition can declare,
 * chosen per instance. Pages are envelopes (`{"data": [...], "next": …}`) for page and cursor
 * styles, and plain arrays for none, offset and link. OAuth2 tokens come from POST /oauth/token.
 */
export class StyledSourceMock {
  url = '';
  requests = 0;
  /** Records served, counted over every page answer. */
  served = 0;
  /** List answers given (200s), and OAuth2 tokens issued. */
  pages = 0;
  tokensIssued = 0;
  /** Bytes of the huge page the client took before it closed the connection (or all of them). */
  hugeBytesSent = 0;
  readonly #tokens = new Map<string, number>();
  #server: Server;

  constructor(readonly options: StyledSourceOptions) {
    if (options.syncTokenParam && !['page', 'cursor'].includes(options.paging)) {
      throw new Error(
        `a sync token needs an envelope body: page or cursor paging, not ${options.paging}`,
      );
    }
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  /** Listens on loopback; the listing is at `${url}/records`. */
  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }

  /** Makes every issued OAuth2 token expire now (a token expiring mid-run). */
  expireTokens(): void {
    for (const token of this.#tokens.keys()) this.#tokens.set(token, 0);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const url = new URL(req.url ?? '/', this.url);
    const body: Buffer[] = [];
    for await (const chunk of req) body.push(chunk as Buffer);
    if (req.method === 'POST' && url.pathname === '/oauth/token') {
      this.#issueToken(req, Buffer.concat(body).toString('utf8'), res);
      return;
    }
    if (req.method !== 'GET' || url.pathname !== '/records') {
      res.writeHead(404).end();
      return;
    }
    if (!this.#authorized(req, url)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
      return;
    }
    const huge = this.options.hugePage;
    if (huge && Number(url.searchParams.get('page') ?? 1) === huge.page) {
      await this.#streamHugePage(res, huge.bytes);
      return;
    }
    const { value, headers } = this.#list(url);
    if (++this.pages === this.options.expireTokensAfter) this.expireTokens();
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(value));
  }

  async #streamHugePage(res: ServerResponse, bytes: number): Promise<void> {
    this.hugeBytesSent = 0;
    const record = JSON.stringify({ id: 'filler', name: 'x'.repeat(200), email: 'f@example.com' });
    const chunk = Buffer.from(`${record},`.repeat(Math.ceil(65_536 / (record.length + 1))));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"data":[');
    let closed = false;
    res.once('close', () => {
      closed = true;
    });
    while (this.hugeBytesSent < bytes && !closed) {
      this.hugeBytesSent += chunk.length;
      if (!res.write(chunk)) {
        // Backpressure: wait for the client to read, or to hang up.
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    if (!closed) res.end(`${record}],"next":null}`);
  }

  #authorized(req: IncomingMessage, url: URL): boolean {
    const header = req.headers.authorization ?? '';
    const c = MOCK_CREDENTIALS;
    switch (this.options.auth ?? 'none') {
      case 'none':
        return true;
      case 'bearer':
        return header === `Bearer ${c.token}`;
      case 'apiKeyHeader':
        return req.headers['x-api-key'] === c.token;
      case 'apiKeyQuery':
        return url.searchParams.get('api_key') === c.token;
      case 'basic':
        return header === `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
      case 'oauth2': {
        const expires = this.#tokens.get(header.replace(/^Bearer /, ''));
        return expires !== undefined && expires > Date.now();
      }
    }
  }

  #issueToken(req: IncomingMessage, form: string, res: ServerResponse): void {
    const c = MOCK_CREDENTIALS;
    const expected = `Basic ${Buffer.from(`${c.clientId}:${c.clientSecret}`).toString('base64')}`;
    const grant = new URLSearchParams(form).get('grant_type');
    if (req.headers.authorization !== expected || grant !== 'client_credentials') {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
      return;
    }
    const seconds = this.options.tokenSeconds ?? 3600;
    const token = randomUUID();
    this.tokensIssued++;
    this.#tokens.set(token, Date.now() + seconds * 1000);
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: seconds }));
  }

  #list(url: URL): { value: unknown; headers?: Record<string, string> } {
    const since = this.options.changeParam && url.searchParams.get(this.options.changeParam);
    const tokenParam = this.options.syncTokenParam;
    const token = tokenParam ? url.searchParams.get(tokenParam) : null;
    const after = token ? Buffer.from(token, 'base64url').toString() : undefined;
    const all = this.options.records.filter(
      (r) =>
        (!since || (typeof r.updatedAt === 'string' && r.updatedAt >= since)) &&
        (after === undefined || (typeof r.updatedAt === 'string' && r.updatedAt > after)),
    );
    // The token of this listing: the newest change the source holds now.
    const changes = this.options.records.flatMap((r) =>
      typeof r.updatedAt === 'string' ? [r.updatedAt] : [],
    );
    const newest = [after ?? '', ...changes].sort().at(-1) ?? '';
    const syncToken = (last: boolean) =>
      tokenParam
        ? {
            syncToken:
              last || this.options.syncTokenEveryPage
                ? Buffer.from(newest).toString('base64url')
                : null,
          }
        : {};
    const size = Number(url.searchParams.get('limit') ?? url.searchParams.get('pageSize') ?? 100);
    const json = (value: unknown, headers: Record<string, string> = {}) => ({ value, headers });
    let items: MockRecord[];
    switch (this.options.paging) {
      case 'none':
        this.served += all.length;
        return json(all);
      case 'page': {
        const page = Number(url.searchParams.get('page') ?? 1);
        items = all.slice((page - 1) * size, page * size);
        this.served += items.length;
        const more = page * size < all.length;
        return json({ data: items, next: more ? page + 1 : null, ...syncToken(!more) });
      }
      case 'offset': {
        const offset = Number(url.searchParams.get('offset') ?? 0);
        items = all.slice(offset, offset + size);
        this.served += items.length;
        return json(items);
      }
      case 'cursor': {
        const cursor = url.searchParams.get('cursor') ?? '';
        const start = Number(Buffer.from(cursor, 'base64url').toString() || 0);
        items = all.slice(start, start + size);
        this.served += items.length;
        const end = start + size;
        const next = this.options.loopCursor
          ? 'MA'
          : Buffer.from(String(end)).toString('base64url');
        return json({
          data: items,
          next: end < all.length ? next : null,
          ...syncToken(end >= all.length),
        });
      }
      case 'link': {
        const page = Number(url.searchParams.get('page') ?? 1);
        items = all.slice((page - 1) * size, page * size);
        this.served += items.length;
        if (page * size >= all.length) return json(items);
        const next = new URL(url);
        next.searchParams.set('page', String(page + 1));
        next.searchParams.delete('api_key');
        const origin = this.options.foreignLinkOrigin ?? this.url;
        const target = `${origin}${next.pathname}${next.search}`;
        return json(items, { link: `<${target}>; rel="next", <${this.url}/records>; rel="first"` });
      }
    }
  }
}

/** The definition fields that read a styled mock (merged into a source definition). */
export function definitionFor(mock: StyledSourceMock, extra: { pageSize?: number } = {}) {
  const size = extra.pageSize;
  const paging = {
    none: { style: 'none' },
    page: { style: 'page', next: 'next', ...(size && { size }) },
    offset: { style: 'offset', ...(size && { size }) },
    cursor: { style: 'cursor', next: 'next', sizeParam: 'limit', ...(size && { size }) },
    link: { style: 'link', sizeParam: 'pageSize', ...(size && { size }) },
  }[mock.options.paging];
  const auth = {
    none: { type: 'none' },
    bearer: { type: 'bearer' },
    apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
    apiKeyQuery: { type: 'apiKey', in: 'query', name: 'api_key' },
    basic: { type: 'basic' },
    oauth2: { type: 'oauth2', tokenUrl: `${mock.url}/oauth/token` },
  }[mock.options.auth ?? 'none'];
  return {
    url: `${mock.url}/records`,
    records: 'data',
    pagination: paging,
    auth,
    ...(mock.options.changeParam && {
      change: { path: 'updatedAt', param: mock.options.changeParam, overlap: 1 },
    }),
    ...(mock.options.syncTokenParam && {
      syncToken: { path: 'syncToken', param: mock.options.syncTokenParam },
    }),
  };
}
