import { appendFileSync, mkdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const LOG_DIR = join(ROOT, '.local', 'logs');

/**
 * The local runtime's terminal: JSON log lines written to stdout by the functions (as Lambda
 * would send them to CloudWatch) go to a log file instead, and to the screen only when verbose;
 * everything else prints as usual. A live progress line sits on stderr when it is a terminal.
 */
export class Terminal {
  readonly logFile: string;
  #write = process.stdout.write.bind(process.stdout);
  #writeErr = process.stderr.write.bind(process.stderr);
  #progress = '';
  #tty = Boolean(process.stderr.isTTY);
  #lastPlain = 0;

  constructor(private readonly verbose: boolean) {
    mkdirSync(LOG_DIR, { recursive: true });
    this.logFile = join(LOG_DIR, `run-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
    const latest = join(LOG_DIR, 'latest.log');
    try {
      unlinkSync(latest);
    } catch {}
    symlinkSync(this.logFile, latest);
    mkdirSync(dirname(this.logFile), { recursive: true });
  }

  /** Starts routing JSON log lines from stdout into the log file. */
  captureLogs(): void {
    process.stdout.write = this.#router(this.#write);
    process.stderr.write = this.#router(this.#writeErr);
  }

  #router(original: typeof process.stdout.write): typeof process.stdout.write {
    return ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      // Log lines and EMF metric lines: what CloudWatch Logs would get.
      if (text.startsWith('{"level"') || text.startsWith('{"_aws"')) {
        appendFileSync(this.logFile, text.endsWith('\n') ? text : `${text}\n`);
        if (!this.verbose) return true;
      }
      this.#clearProgress();
      const written = (original as (...args: unknown[]) => boolean)(chunk, ...rest);
      this.#drawProgress();
      return written;
    }) as typeof process.stdout.write;
  }

  restore(): void {
    this.#clearProgress();
    process.stdout.write = this.#write;
    process.stderr.write = this.#writeErr;
  }

  /** Prints a line for a person (not a log line). */
  say(line: string): void {
    this.#clearProgress();
    this.#write(`${line}\n`);
    this.#drawProgress();
  }

  /** Updates the progress line; without a terminal, prints it at most every 5 s. */
  /**
   * The progress line: redrawn in place on a terminal; elsewhere (a log file, CI) written at most
   * every 5 s, or at once when `settled` (the end of a cycle: its figures are final).
   */
  progress(line: string, settled = false): void {
    this.#progress = line;
    if (this.#tty) {
      this.#drawProgress();
    } else if (settled || Date.now() - this.#lastPlain > 5_000) {
      this.#lastPlain = Date.now();
      this.#writeErr(`${line}\n`);
    }
  }

  endProgress(): void {
    this.#clearProgress();
    this.#progress = '';
  }

  #clearProgress(): void {
    if (this.#tty && this.#progress) this.#writeErr('\r\x1b[2K');
  }

  #drawProgress(): void {
    if (this.#tty && this.#progress)
      this.#writeErr(`\r${this.#progress.slice(0, (process.stderr.columns ?? 120) - 1)}`);
  }
}

/** A plain text table with a header row, columns padded to fit. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) =>
    Math.max(...cells.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ');
  return [
    line(header),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.slice(1).map(line),
  ].join('\n');
}
