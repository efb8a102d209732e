import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../../local/kafka-broker.ts';

/**
 * A TCP proxy on loopback in front of a real server. cut() drops every connection and stops
 * listening (new connections are refused) until heal(): to the client, the server became
 * unreachable mid-conversation.
 */
export class TcpProxy {
  #server: Server;
  #sockets = new Set<Socket>();
  #cut = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.#server = createServer((client) => {
      if (this.#cut) {
        client.destroy();
        return;
      }
      const upstream = createConnection(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
  }

  async start(): Promise<this> {
    // heal() listens on the same port again; while it was free, another socket (a client's
    // ephemeral port, a parallel row's listener) may have taken it for a moment: try again for a
    // while, and fail the row with the reason rather than crash the suite on an unhandled error.
    const deadline = Date.now() + 20_000;
    for (let attempt = 1; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          this.#server.once('error', reject);
          this.#server.listen(this.port, '127.0.0.1', () => {
            this.#server.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (error) {
        const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!inUse || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * attempt)));
      }
    }
    const address = this.#server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  cut(): void {
    if (this.#cut) return;
    this.#cut = true;
    this.#server.close();
    for (const socket of this.#sockets) socket.destroy();
  }

  async heal(): Promise<void> {
    if (!this.#cut) return;
    this.#cut = false;
    await this.start();
  }

  async stop(): Promise<void> {
    this.cut();
  }
}

/**
 * A redis-server of the suite's own, on a free port, by default with an append-only file synced
 * on every write, so restart() keeps what was written (as a persistent or replicated production
 * cache would). `persistent: false` keeps everything in memory (the suite's shared server).
 */
export class OwnRedis {
  #child: ChildProcess | undefined;
  port = 0;

  /** `password` turns on AUTH (requirepass), as ElastiCache with an auth token does. */
  constructor(
    private readonly dir: string,
    private readonly options: { password?: string; persistent?: boolean } = {},
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.port ||= await freePort();
    mkdirSync(this.dir, { recursive: true });
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        ...(this.options.persistent === false
          ? ['--appendonly', 'no']
          : ['--appendonly', 'yes', '--appendfsync', 'always']),
        '--save',
        '',
        ...(this.options.password ? ['--requirepass', this.options.password] : []),
      ],
      { stdio: 'ignore' },
    );
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 10_000;
      const probe = () => {
        const socket = createConnection(this.port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve();
        });
        socket.once('error', () => {
          if (child.exitCode !== null) reject(new Error('redis-server exited at start'));
          else if (Date.now() > deadline) reject(new Error('redis-server did not start'));
          else setTimeout(probe, 50);
        });
      };
      probe();
    });
    return this;
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  async restart(downMs: number): Promise<void> {
    await this.kill();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const faultsDir = (name: string) =>
  join(import.meta.dirname, '..', '..', '.local', 'faults', name);
