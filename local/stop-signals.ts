import type { EventEmitter } from 'node:events';

/** The signals that stop a local run, and the exit code each ends it with (128 + number). */
export const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
export type StopSignal = keyof typeof EXIT_CODES;

/** How long after the first Ctrl-C another one counts as the same (relayed) one. */
const ECHO_MS = 1_000;

/**
 * Calls `stop` on the first SIGINT, SIGTERM or SIGHUP, and `quit` on a later Ctrl-C. The
 * terminal sends one Ctrl-C to every process of its foreground group, and npm and tsx relay
 * theirs to us as well, so the same Ctrl-C may arrive twice within milliseconds: a SIGINT within
 * `echoMs` of the first is that one again, not a request to quit. The listeners stay on, so no
 * second signal falls through to Node's default (an exit that skips the summary).
 */
export function onStopSignals(
  stop: (signal: StopSignal) => void,
  quit: () => void,
  options: { target?: EventEmitter; echoMs?: number; now?: () => number } = {},
): void {
  const target = options.target ?? process;
  const now = options.now ?? Date.now;
  const echoMs = options.echoMs ?? ECHO_MS;
  let first: number | undefined;
  for (const signal of Object.keys(EXIT_CODES) as StopSignal[]) {
    target.on(signal, () => {
      if (first === undefined) {
        first = now();
        stop(signal);
      } else if (signal === 'SIGINT' && now() - first >= echoMs) {
        quit();
      }
    });
  }
}
