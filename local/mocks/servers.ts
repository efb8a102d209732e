import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MockRecord } from './dataset.ts';
import { FaultInjector, type FaultRates } from './faults.ts';

export type MockServer = { url: string; close(): Promise<void> };

export async function listen(server: Server, port = 0, host = '127.0.0.1'): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

/**
 * A source API (CRM or Inventory): GET {path}?page=N&pageSize=M answers
 * {"items": [...], "page": N, "nextPage": N+1 | null, "total": T}. Records are a plain array the
 * caller may change between fetches; `faults` injects errors, throttling, hangs and bad bodies.
 */
export class SourceMock implements MockServer {
  url = '';
  requests = 0;
  readonly faults: FaultInjector;
  /** When set, the listing claims to end after this many pages (pagination that ends early). */
  lastPage: number | undefined;
  /** When set, the time each record id was last served (for latency measurements). */
  servedAt: Map<string, number> | undefined;
  #server: Server;

  constructor(
    readonly path: string,
    public records: MockRecord[],
    rates: Partial<FaultRates> = {},
    seed = 7,
  ) {
    this.faults = new FaultInjector(rates, seed);
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.keepAliveTimeout = 30_000;
  }

  /** Listens on loopback unless `host` says otherwise (0.0.0.0 in a container). */
  async start(port?: number, host?: string): Promise<this> {
    this.url = await listen(this.#server, port, host);
    return this;
  }

  close = () => closer(this.#server)();

  /** Replaces the record with this id (or adds it), e.g. to simulate a change at the source. */
  upsert(record: MockRecord): void {
    const index = this.records.findIndex((existing) => existing.id === record.id);
    if (index === -1) this.records.push(record);
    else this.records[index] = record;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const url = new URL(req.url ?? '/', this.url);
    if (req.method !== 'GET' || url.pathname !== this.path) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    await this.faults.delay();
    const fault = this.faults.next();
    if (fault && this.faults.apply(fault, res)) return;
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const pageSize = Math.min(
      10_000,
      Math.max(1, Number(url.searchParams.get('pageSize') ?? 100) || 100),
    );
    const items =
      fault?.kind === 'empty' ? [] : this.records.slice((page - 1) * pageSize, page * pageSize);
    const pages = Math.min(
      Math.max(1, Math.ceil(this.records.length / pageSize)),
      this.lastPage ?? Number.POSITIVE_INFINITY,
    );
    const body = JSON.stringify({
      items,
      page,
      nextPage: page < pages ? page + 1 : null,
      total: this.records.length,
    });
    if (this.servedAt) {
      const now = Date.now();
      for (const item of items) this.servedAt.set(String(item.id), now);
    }
    if (fault?.kind === 'reset-after-processing') {
      res.socket?.destroy();
      return;
    }
    await this.faults.lateness(fault);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      fault?.kind === 'malformed' ? body.slice(0, Math.max(1, Math.floor(body.length / 2))) : body,
    );
  }
}

/**
 * Renders a payload the way the original Java consumer printed maps:
 * {customer={id=1, name=Ada}, inventory={id=1, stock=15}}
 */
export function javaMapString(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(javaMapString).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => `${k}=${javaMapString(v)}`,
    );
    return `{${entries.join(', ')}}`;
  }
  return String(value);
}
