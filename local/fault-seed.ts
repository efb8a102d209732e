import { randomInt } from 'node:crypto';
import type { FaultRates } from './mocks/faults.ts';

/** The largest seed: the mocks' generators take 32-bit seeds; 2^31 keeps them easy to type. */
const MAX_SEED = 2 ** 31 - 1;

/**
 * The seed of this run's mock faults: `--fault-seed`'s value, or a new one each run, so that a
 * fault rate behaves as a rate over runs instead of one fixed sequence. Throws naming the flag
 * when the value is not a whole number from 0 to 2^31-1.
 */
export function faultSeedOf(
  raw: string | undefined,
  pick: () => number = () => randomInt(1, MAX_SEED),
): number {
  if (raw === undefined) return pick();
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new Error(`--fault-seed must be a whole number from 0 to ${MAX_SEED}, got "${raw}"`);
  }
  return seed;
}

/** Whether the mocks inject random faults at all (latency alone is not random). */
export function injectsFaults(rates: FaultRates): boolean {
  return rates.errorRate > 0 || rates.throttleRate > 0;
}

/** The line that names the seed of a run with random faults, and how to repeat them. */
export function faultSeedLine(rates: FaultRates, seed: number): string | undefined {
  if (!injectsFaults(rates)) return undefined;
  const percent = (rate: number) => `${Number((rate * 100).toFixed(2))}%`;
  return `Mock faults: ${percent(rates.errorRate)} 500s, ${percent(rates.throttleRate)} 429s; fault seed ${seed} (--fault-seed ${seed} repeats them).`;
}
