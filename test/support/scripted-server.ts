import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server does with one request: answer, never answer, or drop the connection. */
export type ScriptedAnswer =
  | { status: number; headers?: Record<string, string>; body?: string }
  | 'hang'
  | 'reset';

export type ReceivedRequest = {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
};

/**
 * A real node:http server on a free loopback port that answers requests from a script, in order
 * (200 once the script runs out), and records every request it received, headers and body.
 */
export class ScriptedHttpServer {
  readonly requests: ReceivedRequest[] = [];
  #script: ScriptedAnswer[] = [];
  #server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      this.#answer(this.#script.shift() ?? { status: 200, body: '{"ok":true}' }, res);
    });
  });

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  url(path = '/analytics/data'): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}${path}`;
  }

  /** Sets the answers to the next requests, replacing what was left of the script. */
  script(...answers: ScriptedAnswer[]): void {
    this.#script = [...answers];
    this.requests.length = 0;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #answer(answer: ScriptedAnswer, res: ServerResponse): void {
    if (answer === 'hang') return;
    if (answer === 'reset') {
      res.socket?.destroy();
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body ?? '');
  }
}

/** A sleep that returns at once and keeps the delays it was asked for. */
export function recordingSleep() {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms: number) => {
      delays.push(ms);
    },
  };
}
