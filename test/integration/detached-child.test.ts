import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/factories.ts';

/*
 * The local broker's process handling (local/detached-child.ts), on real processes: the broker is
 * out of reach of the terminal's Ctrl-C, and never outlives the runner, however the runner ends.
 * A `sleep` stands in for the broker's JVM.
 */

const HARNESS = join(import.meta.dirname, '..', 'support', 'detached-child-harness.ts');
let harness: ChildProcess | undefined;

afterEach(() => {
  // In its own group, so the whole of it can be ended without touching the test runner.
  if (harness?.pid !== undefined && harness.exitCode === null && harness.signalCode === null)
    process.kill(-harness.pid, 'SIGKILL');
  harness = undefined;
});

type Stat = { pid: number; comm: string; state: string; pgrp: number };

/** Every process of this machine as /proc/<pid>/stat describes it (Linux). */
function processes(): Stat[] {
  return readdirSync('/proc').flatMap((name) => {
    if (!/^\d+$/.test(name)) return [];
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      return [];
    }
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
    const close = text.lastIndexOf(')');
    const [state = '', , pgrp = ''] = text.slice(close + 2).split(' ');
    return [
      {
        pid: Number(name),
        comm: text.slice(text.indexOf('(') + 1, close),
        state,
        pgrp: Number(pgrp),
      },
    ];
  });
}

/** The processes of a group that still run (zombies waiting to be reaped are gone). */
const liveIn = (group: number) => processes().filter((p) => p.pgrp === group && p.state !== 'Z');

/** Starts the harness in a group of its own, as a terminal's foreground job; its child's group. */
async function startHarness(
  ...args: string[]
): Promise<{ group: number; lines: AsyncIterator<string> }> {
  harness = spawn(process.execPath, ['--import', 'tsx', HARNESS, ...args], {
    detached: true,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: harness.stdout as NodeJS.ReadableStream })[
    Symbol.asyncIterator
  ]();
  const first = await lines.next();
  const { group } = JSON.parse(String(first.value)) as { group: number };
  const command = args.includes('--deaf-to-term') ? 'node' : 'sleep';
  await waitFor(
    () => liveIn(group).some((p) => p.comm === command),
    'the detached command to start',
    10_000,
  );
  return { group, lines };
}

describe('a detached child (the local Kafka broker)', () => {
  it("runs in a process group of its own, which the terminal's Ctrl-C does not reach", async () => {
    const { group } = await startHarness();
    const runner = harness?.pid;
    expect(group).not.toBe(runner);
    const command = liveIn(group).find((p) => p.comm === 'sleep');
    expect(command?.pgrp).toBe(group);
    // Ctrl-C: SIGINT to the runner's group. The runner dies of it (it has no handler here), and
    // the command is then stopped by its watchdog, not by the signal.
    process.kill(-(runner as number), 'SIGINT');
    await waitFor(() => liveIn(group).length === 0, 'the command to be stopped', 10_000);
  });

  it('keeps running through a Ctrl-C the runner survives, until the runner stops it', async () => {
    const { group, lines } = await startHarness('--survive-sigint');
    process.kill(-(harness?.pid as number), 'SIGINT');
    expect(JSON.parse(String((await lines.next()).value))).toEqual({ sigint: true });
    // The runner is printing its summary: the broker must still answer.
    expect(liveIn(group).map((p) => p.comm)).toContain('sleep');
    harness?.stdin?.write('stop\n');
    expect(JSON.parse(String((await lines.next()).value))).toMatchObject({ stopped: true });
    expect(liveIn(group).filter((p) => p.comm === 'sleep')).toEqual([]);
  });

  it('is stopped when the runner is killed outright (SIGKILL: no exit handler runs)', async () => {
    const { group } = await startHarness();
    harness?.kill('SIGKILL');
    await waitFor(() => liveIn(group).length === 0, 'the orphaned command to be stopped', 10_000);
  });

  it('is killed outright 15 s after the TERM when it ignores the TERM', async () => {
    const { group } = await startHarness('--deaf-to-term');
    const started = Date.now();
    harness?.kill('SIGKILL');
    // Well after the TERM, it is still there: only the watchdog's KILL can end it.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(liveIn(group).map((p) => p.comm)).toContain('node');
    await waitFor(() => liveIn(group).length === 0, 'the KILL after the TERM', 25_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
  }, 40_000);

  it('is killed when the runner exits normally without stopping it', async () => {
    const { group } = await startHarness();
    harness?.stdin?.write('exit\n');
    await waitFor(() => liveIn(group).length === 0, 'the command to be killed on exit', 10_000);
  });

  it('stop() ends it with SIGTERM and resolves once it has exited', async () => {
    const { group, lines } = await startHarness();
    harness?.stdin?.write('stop\n');
    const answer = JSON.parse(String((await lines.next()).value));
    // sleep dies of the TERM; its watchdog shell passes that on as 128 + 15.
    expect(answer).toEqual({ stopped: true, signal: null, code: 143 });
    expect(liveIn(group).filter((p) => p.comm === 'sleep')).toEqual([]);
  });
});
