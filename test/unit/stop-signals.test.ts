import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES, onStopSignals, type StopSignal } from '../../local/stop-signals.ts';

function aRunner() {
  const target = new EventEmitter();
  let clock = 0;
  const stops: StopSignal[] = [];
  let quits = 0;
  onStopSignals(
    (signal) => stops.push(signal),
    () => quits++,
    { target, now: () => clock, echoMs: 1_000 },
  );
  return {
    send: (signal: StopSignal, at: number) => {
      clock = at;
      target.emit(signal);
    },
    stops,
    quits: () => quits,
    listeners: (signal: StopSignal) => target.listenerCount(signal),
  };
}

describe('stopping a local run on a signal', () => {
  it('stops once on Ctrl-C, and takes the same Ctrl-C relayed by npm or tsx for one', () => {
    const runner = aRunner();
    runner.send('SIGINT', 0);
    runner.send('SIGINT', 30);
    expect(runner.stops).toEqual(['SIGINT']);
    expect(runner.quits()).toBe(0);
    // Still listening: a relayed signal must not fall through to Node's default exit.
    expect(runner.listeners('SIGINT')).toBe(1);
  });

  it('quits at once on a second Ctrl-C pressed later', () => {
    const runner = aRunner();
    runner.send('SIGINT', 0);
    runner.send('SIGINT', 2_500);
    expect(runner.stops).toEqual(['SIGINT']);
    expect(runner.quits()).toBe(1);
  });

  it('stops on SIGTERM or a hang-up too, each with its exit code, and only once', () => {
    const runner = aRunner();
    runner.send('SIGHUP', 0);
    runner.send('SIGTERM', 5_000);
    expect(runner.stops).toEqual(['SIGHUP']);
    expect(runner.quits()).toBe(0);
    expect(EXIT_CODES).toEqual({ SIGINT: 130, SIGTERM: 143, SIGHUP: 129 });
  });
});
