import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const HARNESS = join(import.meta.dirname, 'lambda-runtime-harness.mjs');

/**
 * The Node 22 binary to run bundles on (Lambda's nodejs22.x): this process's own when it is 22,
 * else the pinned one .ci/node22.sh keeps in .local/node22. Throws saying how to get it.
 */
export function node22(): string {
  if (process.versions.node.split('.')[0] === '22') return process.execPath;
  const pinned = join(ROOT, '.local', 'node22', 'package', 'bin', 'node');
  if (existsSync(pinned)) return pinned;
  throw new Error(
    `the artifact tests run the bundles on Node 22, as Lambda does; this is Node ${process.versions.node} and .local/node22 is empty: run \`source .ci/node22.sh\` first`,
  );
}

export type SerializedError = { name: string; message: string; stack?: string };
export type Invocation = { ok: true; result: unknown } | { ok: false; error: SerializedError };

/**
 * One bundled function in a folder shaped like Lambda's: the asset's files alone in a task
 * folder under the system temp dir (no node_modules there or above it), started on Node 22 with
 * the given environment. start() is the cold start; invoke() sends an event to the warm process.
 */
export class LambdaSandbox {
  readonly logs: string[] = [];
  loadError: SerializedError | undefined;
  #child: ChildProcess | undefined;
  #folder = '';
  #pending = new Map<string, (answer: Invocation) => void>();

  constructor(
    private readonly assetDir: string,
    private readonly environment: Record<string, string>,
    private readonly handler = 'index.handler',
  ) {}

  /** Copies the bundle, starts the runtime, and waits for the module to load (or fail to). */
  async start(): Promise<this> {
    this.#folder = mkdtempSync(join(tmpdir(), 'lambda-'));
    const task = join(this.#folder, 'task');
    const runtime = join(this.#folder, 'runtime');
    cpSync(this.assetDir, task, { recursive: true });
    mkdirSync(runtime);
    copyFileSync(HARNESS, join(runtime, 'harness.mjs'));
    const [file, exported] = this.handler.split('.');
    const child = fork(join(runtime, 'harness.mjs'), [join(task, `${file}.mjs`), exported ?? ''], {
      execPath: node22(),
      cwd: task,
      env: { ...this.environment, LAMBDA_TASK_ROOT: task, _HANDLER: this.handler },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.#child = child;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => this.logs.push(...text.split('\n').filter(Boolean)));
    }
    await new Promise<void>((resolveLoad, reject) => {
      child.once('exit', (code) =>
        reject(new Error(`runtime exited (${code}) before loading:\n${this.logs.join('\n')}`)),
      );
      child.on('message', (message: { type: string; id?: string } & Partial<Invocation>) => {
        if (message.type === 'loaded') {
          this.loadError = (message as { error?: SerializedError }).error;
          resolveLoad();
        } else if (message.type === 'result' && message.id) {
          this.#pending.get(message.id)?.(message as Invocation);
          this.#pending.delete(message.id);
        }
      });
    });
    return this;
  }

  /** Invokes the loaded handler with `event`; the context reports `timeoutMs` remaining. */
  invoke(event: unknown, timeoutMs = 60_000): Promise<Invocation> {
    const child = this.#child;
    if (!child) throw new Error('start() the sandbox first');
    if (this.loadError) throw new Error(`the bundle did not load: ${this.loadError.message}`);
    const id = randomUUID();
    return new Promise((resolveInvocation, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`no answer within ${timeoutMs} ms:\n${this.logs.slice(-20).join('\n')}`));
      }, timeoutMs + 5_000);
      this.#pending.set(id, (answer) => {
        clearTimeout(timer);
        resolveInvocation(answer);
      });
      child.send({ id, event, timeoutMs });
    });
  }

  /** JSON log lines the function wrote, parsed (other lines are skipped). */
  jsonLogs(): Record<string, unknown>[] {
    return this.logs.flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as unknown;
        return typeof parsed === 'object' && parsed !== null
          ? [parsed as Record<string, unknown>]
          : [];
      } catch {
        return [];
      }
    });
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
      child.kill('SIGKILL');
      await exited;
    }
    if (this.#folder) rmSync(this.#folder, { recursive: true, force: true });
  }
}
