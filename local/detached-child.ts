import { type ChildProcess, spawn } from 'node:child_process';

/**
 * Runs the command in the background, stops it when our stdin pipe to it closes (however this
 * process ended, SIGKILL included), with SIGKILL 15 s after the TERM if it hangs on its way out,
 * and passes its exit status on. TERM is forwarded to it; the watchdog is killed once the command
 * is gone, so it never signals a reused pid.
 */
const WATCHDOG = [
  'exec 3<&0 </dev/null',
  '"$@" &',
  'command=$!',
  '(cat <&3 >/dev/null; kill -TERM "$command" 2>/dev/null',
  ' for second in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do',
  '   kill -0 "$command" 2>/dev/null || exit 0; sleep 1',
  ' done; kill -KILL "$command" 2>/dev/null) &',
  'watchdog=$!',
  'exec 3<&-',
  `trap 'kill -TERM "$command" 2>/dev/null' TERM`,
  'status=0',
  'while kill -0 "$command" 2>/dev/null; do wait "$command"; status=$?; done',
  'kill "$watchdog" 2>/dev/null',
  'exit "$status"',
].join('\n');

/** A process in a group of its own, stopped by us and never outliving us. */
export type DetachedChild = {
  /** The watchdog shell: its exit is the command's, with the command's exit status. */
  readonly process: ChildProcess;
  /** The process group (the watchdog's pid): the command and its watchdog. */
  readonly group: number;
  /**
   * Sends SIGTERM to the group and resolves once the command has exited; SIGKILL after
   * `graceMs`. Resolves at once when it has already exited.
   */
  stop(graceMs?: number): Promise<void>;
};

/**
 * Starts `command` in a process group of its own, so that the terminal's Ctrl-C (SIGINT to the
 * foreground group) does not reach it and we stop it when we choose (after the local runtime's
 * summary has read its last topic). So that it is never left behind, it is killed on our `exit`
 * event, and its watchdog stops it when the stdin pipe we hold closes: when this process ends in
 * any way, a signal or SIGKILL included. Throws if `sh` cannot be started.
 */
export function spawnDetached(command: string, args: readonly string[]): DetachedChild {
  const child = spawn('sh', ['-c', WATCHDOG, 'detached-child', command, ...args], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const group = child.pid;
  if (group === undefined) throw new Error(`could not start ${command} (no pid)`);
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-group, signal);
    } catch {
      // ESRCH: the group is gone already.
    }
  };
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const killOnExit = () => signalGroup('SIGKILL');
  process.on('exit', killOnExit);
  child.once('exit', () => {
    process.off('exit', killOnExit);
    // The watchdog's pipe has done its work: let this process exit without waiting on it.
    child.stdin?.destroy();
  });
  return {
    process: child,
    group,
    async stop(graceMs = 15_000) {
      if (exited()) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
    },
  };
}
