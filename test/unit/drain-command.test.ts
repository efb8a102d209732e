import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/errors.ts';
import { type DrainCommand, drainCommand } from '../../tools/commons/drain-command.ts';

/** A command that leaves `remaining` behind, or throws `failure`, and records its inputs. */
function aCommand(outcome: { remaining?: number; failure?: Error } = {}) {
  const runs: { chunk: string; timeoutMs: number }[] = [];
  const command: DrainCommand<'chunk'> = {
    name: 'redrive',
    usage: 'npm run redrive -- [--chunk <records>]',
    defaultTimeoutSeconds: 900,
    options: { chunk: { default: '500' } },
    check: ({ chunk }) => (chunk === '0' ? `--chunk must be 1 or more, got "${chunk}"` : undefined),
    async run({ chunk }, timeoutMs, output) {
      runs.push({ chunk, timeoutMs });
      output.err('working…');
      if (outcome.failure) throw outcome.failure;
      return { line: `left ${outcome.remaining ?? 0}`, remaining: outcome.remaining ?? 0 };
    },
  };
  const out: string[] = [];
  const err: string[] = [];
  const output = { out: (line: string) => out.push(line), err: (line: string) => err.push(line) };
  return { command, runs, out, err, output };
}

describe('the drain commands (replay, re-drive): arguments, summary and exit code', () => {
  it('runs with the defaults, prints the summary line and exits 0 when nothing is left', async () => {
    const { command, runs, out, err, output } = aCommand();
    expect(await drainCommand(command, [], output)).toBe(0);
    expect(runs).toEqual([{ chunk: '500', timeoutMs: 900_000 }]);
    expect(out).toEqual(['left 0']);
    expect(err).toEqual(['working…']);
  });

  it('takes its own options and --timeout, and exits 1 when something is left', async () => {
    const { command, runs, out, output } = aCommand({ remaining: 3 });
    expect(await drainCommand(command, ['--chunk', '20', '--timeout', '5'], output)).toBe(1);
    expect(runs).toEqual([{ chunk: '20', timeoutMs: 5_000 }]);
    expect(out).toEqual(['left 3']);
  });

  it('prints the usage for --help and runs nothing', async () => {
    const { command, runs, out, output } = aCommand();
    expect(await drainCommand(command, ['--help'], output)).toBe(0);
    expect(out).toEqual([command.usage]);
    expect(runs).toEqual([]);
  });

  it('exits 2, naming the value, for a bad --timeout or a value its check refuses', async () => {
    for (const [args, message] of [
      [['--timeout', 'soon'], '--timeout must be a number of seconds, got "soon"'],
      [['--timeout', '0'], '--timeout must be a number of seconds, got "0"'],
      [['--chunk', '0'], '--chunk must be 1 or more, got "0"'],
    ] as const) {
      const { command, runs, err, output } = aCommand();
      expect(await drainCommand(command, [...args], output)).toBe(2);
      expect(err).toEqual([message]);
      expect(runs).toEqual([]);
    }
  });

  it('exits 1 with a bad setting as its own message, and any other failure named', async () => {
    const bad = aCommand({ failure: new ConfigError('REDIS_URL', 'REDIS_URL is required') });
    expect(await drainCommand(bad.command, [], bad.output)).toBe(1);
    expect(bad.err.slice(-2)).toEqual([
      'Invalid configuration: REDIS_URL is required',
      "npm run redrive takes the functions' settings, none of them defaulted (README, Faults and replay); `npm run local` prints this command with its run's settings when it starts.",
    ]);
    const broken = aCommand({ failure: new Error('broker gone') });
    expect(await drainCommand(broken.command, [], broken.output)).toBe(1);
    expect(broken.err.at(-1)).toBe('redrive failed: broker gone');
    const unknown = aCommand();
    expect(await drainCommand(unknown.command, ['--nope'], unknown.output)).toBe(1);
    expect(unknown.err.at(-1)).toMatch(/^redrive failed: Unknown option '--nope'/);
  });
});
