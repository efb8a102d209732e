import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FaultInjector, type FaultRates } from './faults.ts';
import { closer, listen, type MockServer } from './servers.ts';

/** One payload the Analytics mock accepted (processed), with the headers it came with. */
export type Received = {
  id: string;
  /** The Idempotency-Key header, if any. */
  key: string | undefined;
  headers: Record<string, string>;
  body: unknown;
  at: number;
};

/** What the Analytics mock saw, in counts. */
export type AnalyticsStats = {
  /** Every POST, faults and repeats included. */
  requests: number;
  /** Payloads processed (recorded). */
  received: number;
  /** Distinct Idempotency-Key values among the processed payloads. */
  distinctKeys: number;
  /**
   * Requests whose key had been processed before: answered with the first answer and not
   * processed again when the mock honours the key, processed again when it ignores it.
   */
  repeatedKeys: number;
  /** Requests answered with an injected fault before being processed. */
  rejected: number;
};

type Answer = { status: number; body: string };

const ACCEPTED: Answer = { status: 200, body: '{"status":"accepted"}' };

/**
 * The Analytics API: POST /analytics with a JSON payload answers 200. It keeps what it received,
 * headers included (for checks), and calls `onReceive` for each, which the local runner uses to
 * print it.
 *
 * It honours `Idempotency-Key` the way payment and webhook APIs do: a request whose key was
 * processed before gets the first answer again and is not processed twice. With
 * `honourIdempotencyKey = false` it processes every request, as a sink that ignores the key would.
 */
export class AnalyticsMock implements MockServer {
  url = '';
  readonly received: Received[] = [];
  readonly faults: FaultInjector;
  honourIdempotencyKey = true;
  requests = 0;
  rejected = 0;
  repeatedKeys = 0;
  #answers = new Map<string, Answer>();
  #server: Server;

  constructor(
    rates: Partial<FaultRates> = {},
    private readonly onReceive: (payload: unknown) => void = () => {},
    seed = 11,
  ) {
    this.faults = new FaultInjector(rates, seed);
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.keepAliveTimeout = 30_000;
  }

  async start(port?: number, host?: string): Promise<this> {
    this.url = `${await listen(this.#server, port, host)}/analytics`;
    return this;
  }

  close = () => closer(this.#server)();

  stats(): AnalyticsStats {
    return {
      requests: this.requests,
      received: this.received.length,
      distinctKeys: new Set(this.received.map((entry) => entry.key)).size,
      repeatedKeys: this.repeatedKeys,
      rejected: this.rejected,
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || !req.url?.startsWith('/analytics')) {
      res.writeHead(404).end();
      return;
    }
    this.requests++;
    await this.faults.delay();
    const fault = this.faults.next();
    // apply() answers every fault but the ones that follow processing (late answer, reset after).
    if (fault && this.faults.apply(fault, res)) {
      this.rejected++;
      return;
    }
    const key = headerValue(req, 'idempotency-key');
    const first = key === undefined ? undefined : this.#answers.get(key);
    if (first) {
      this.repeatedKeys++;
      if (this.honourIdempotencyKey) {
        res.writeHead(first.status, { 'content-type': 'application/json' }).end(first.body);
        return;
      }
    }
    const answer = this.#process(req, Buffer.concat(chunks).toString('utf8'), key);
    if (key !== undefined && !first) this.#answers.set(key, answer);
    if (fault?.kind === 'reset-after-processing') {
      res.socket?.destroy();
      return;
    }
    await this.faults.lateness(fault);
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  }

  #process(req: IncomingMessage, text: string, key: string | undefined): Answer {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 400, body: '{"error":"body is not JSON"}' };
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers[name] = name === 'authorization' ? '***' : value;
    }
    const id = String((body as { id?: unknown }).id ?? '');
    this.received.push({ id, key, headers, body, at: Date.now() });
    this.onReceive(body);
    return ACCEPTED;
  }
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
