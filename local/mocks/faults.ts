import type { ServerResponse } from 'node:http';
import { seededRandom } from './dataset.ts';

/** A one-off answer a mock gives to its next request(s), instead of the normal one. */
export type ScriptedFault =
  | { kind: 'status'; status: number; retryAfterSeconds?: number }
  | { kind: 'hang' }
  | { kind: 'malformed' }
  /** A page with no items that still points to the next one. */
  | { kind: 'empty' }
  /** The connection is dropped after the request was read, before it is processed. */
  | { kind: 'reset' }
  /**
   * The request is processed (Analytics records the payload), and the answer comes after this
   * long: past the client's timeout, a success the client never sees.
   */
  | { kind: 'late-answer'; afterMs: number }
  /** The request is processed, then the connection is dropped before the answer. */
  | { kind: 'reset-after-processing' };

/** Random faults on every request, at these rates (0..1), plus a fixed added latency. */
export type FaultRates = {
  latencyMs: number;
  errorRate: number;
  throttleRate: number;
};

const NO_FAULTS: FaultRates = { latencyMs: 0, errorRate: 0, throttleRate: 0 };

/**
 * The mocks of a run, each with faults of its own: the seed of each mock's injector is derived
 * from the run's one seed, so one number (`--fault-seed`) repeats every mock's faults.
 */
export const FAULT_MOCKS = ['crm', 'inventory', 'analytics'] as const;

/**
 * The seed of one mock's faults in a run seeded `runSeed`: the mock's index (FAULT_MOCKS, then the
 * extra side mocks from FAULT_MOCKS.length on) spread over the 32-bit range.
 */
export function mockSeed(runSeed: number, index: number): number {
  return (runSeed + Math.imul(index + 1, 0x9e3779b9)) >>> 0;
}

/**
 * The mocks' seeds when a run gives none: fixed, as the fault suite and the tests were written
 * against. A run of `npm run local` always gives one (local/fault-seed.ts).
 */
const FIXED_SEEDS = { crm: 7, inventory: 13, analytics: 11, sides: 17 } as const;

/** The seed of a mock's injector: derived from the run's seed, or the mock's fixed one. */
export function seedOf(
  runSeed: number | undefined,
  mock: (typeof FAULT_MOCKS)[number] | { side: number },
): number {
  if (typeof mock === 'object') {
    return runSeed === undefined
      ? FIXED_SEEDS.sides + mock.side
      : mockSeed(runSeed, FAULT_MOCKS.length + mock.side);
  }
  return runSeed === undefined ? FIXED_SEEDS[mock] : mockSeed(runSeed, FAULT_MOCKS.indexOf(mock));
}

/**
 * Decides what a mock does with each request: a scripted fault first, then the random ones.
 * `down` makes every request fail with 503 until it is cleared.
 */
export class FaultInjector {
  rates: FaultRates;
  down = false;
  readonly script: ScriptedFault[] = [];
  injected = 0;
  #random: () => number;

  constructor(rates: Partial<FaultRates> = {}, seed = 42) {
    this.rates = { ...NO_FAULTS, ...rates };
    this.#random = seededRandom(seed);
  }

  /** Queues faults for the next requests, in order. */
  push(...faults: ScriptedFault[]): void {
    this.script.push(...faults);
  }

  next(): ScriptedFault | undefined {
    if (this.down) return { kind: 'status', status: 503 };
    const scripted = this.script.shift();
    if (scripted) return scripted;
    if (this.#random() < this.rates.errorRate) return { kind: 'status', status: 500 };
    if (this.#random() < this.rates.throttleRate)
      return { kind: 'status', status: 429, retryAfterSeconds: 1 };
    return undefined;
  }

  /**
   * Answers with the fault. Returns false for the faults the caller must render itself
   * ('malformed', 'empty', 'late-answer', 'reset-after-processing'), which shape or follow a normal
   * answer. A hang holds the request until the client gives up.
   */
  apply(fault: ScriptedFault, res: ServerResponse): boolean {
    this.injected++;
    switch (fault.kind) {
      case 'status': {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (fault.retryAfterSeconds !== undefined)
          headers['retry-after'] = String(fault.retryAfterSeconds);
        res
          .writeHead(fault.status, headers)
          .end(JSON.stringify({ error: `injected ${fault.status}` }));
        return true;
      }
      case 'hang':
        res.on('close', () => {});
        return true;
      case 'reset':
        res.socket?.destroy();
        return true;
      case 'malformed':
      case 'empty':
      case 'late-answer':
      case 'reset-after-processing':
        return false;
    }
  }

  /** Holds an answer for a 'late-answer' fault; nothing for the others. */
  async lateness(fault: ScriptedFault | undefined): Promise<void> {
    if (fault?.kind === 'late-answer') await new Promise((r) => setTimeout(r, fault.afterMs));
  }

  async delay(): Promise<void> {
    if (this.rates.latencyMs > 0) await new Promise((r) => setTimeout(r, this.rates.latencyMs));
  }
}
