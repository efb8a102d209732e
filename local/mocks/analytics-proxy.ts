import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendHttp } from '../../shared/adapters/http-client.ts';
import type { AnalyticsStats, Received } from './analytics-mock.ts';
import { FaultInjector } from './faults.ts';

/**
 * Stands in front of an Analytics API the user runs: every POST the merge function makes is
 * forwarded unchanged (headers and body) to `target`, its answer passed back, and a payload the
 * target accepted (2xx) is recorded. The local summary and its exactly-once check then count
 * what the pipeline itself delivered, whatever the target does with it. Same reading interface
 * as the Analytics mock (received, stats, faults), so the mock worker hosts either.
 *
 * Whether the target honours Idempotency-Key cannot be seen from here: a repeated key it accepts
 * is recorded again and counted in `repeatedKeys`, as at a sink that ignores the key.
 */
export class AnalyticsRecorder {
  url = '';
  readonly received: Received[] = [];
  readonly faults = new FaultInjector({}, 11);
  requests = 0;
  rejected = 0;
  repeatedKeys = 0;
  #acceptedKeys = new Set<string>();
  #server: Server;

  constructor(
    readonly target: string,
    private readonly onReceive: (payload: unknown) => void = () => {},
    private readonly timeoutMs = 30_000,
  ) {
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }

  stats(): AnalyticsStats {
    return {
      requests: this.requests,
      received: this.received.length,
      distinctKeys: this.#acceptedKeys.size,
      repeatedKeys: this.repeatedKeys,
      repeatedPayloads: this.repeatedKeys,
      rejected: this.rejected,
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    this.requests++;
    const fault = this.faults.next();
    if (fault && this.faults.apply(fault, res)) {
      this.rejected++;
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'authorization', 'idempotency-key']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    try {
      const answer = await sendHttp(this.target, { method: 'POST', headers, body }, this.timeoutMs);
      if (answer.status >= 200 && answer.status < 300) {
        const payload = JSON.parse(body) as { id?: unknown };
        const key = headers['idempotency-key'];
        if (key !== undefined) {
          if (this.#acceptedKeys.has(key)) this.repeatedKeys++;
          this.#acceptedKeys.add(key);
        }
        const seen = { ...headers };
        if (seen.authorization) seen.authorization = '***';
        this.received.push({
          id: String(payload.id ?? ''),
          key,
          headers: seen,
          body: payload,
          at: Date.now(),
        });
        this.onReceive(payload);
      } else {
        this.rejected++;
      }
      const passed: Record<string, string> = {};
      for (const name of ['content-type', 'retry-after']) {
        const value = answer.headers[name];
        if (typeof value === 'string') passed[name] = value;
      }
      res.writeHead(answer.status, passed);
      res.end(answer.body);
    } catch (error) {
      this.rejected++;
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: `Analytics at ${this.target}: ${(error as Error).message}` }),
      );
    }
  }
}
