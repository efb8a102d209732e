import { describe, expect, it } from 'vitest';
import { faultSeedLine, faultSeedOf } from '../../local/fault-seed.ts';
import { FaultInjector, seedOf } from '../../local/mocks/faults.ts';

const TEN_PERCENT = { latencyMs: 0, errorRate: 0.1, throttleRate: 0 };

/** Which of a mock's first `n` requests fail, with its injector seeded `seed`. */
const failures = (seed: number, n = 20) => {
  const faults = new FaultInjector(TEN_PERCENT, seed);
  return Array.from({ length: n }, () => faults.next() !== undefined);
};

/** Whether five requests in a row fail: more than a fetch's five attempts can ride out. */
const outlastsRetries = (failed: boolean[]) =>
  failed
    .map((fault) => (fault ? 'x' : '.'))
    .join('')
    .includes('xxxxx');

describe("npm run local's fault seed", () => {
  it('is new each run unless --fault-seed fixes it, and names the flag when that is bad', () => {
    let next = 100;
    expect(faultSeedOf(undefined, () => next++)).toBe(100);
    expect(faultSeedOf(undefined, () => next++)).toBe(101);
    expect(new Set(Array.from({ length: 5 }, () => faultSeedOf(undefined))).size).toBeGreaterThan(
      1,
    );
    expect(faultSeedOf('13')).toBe(13);
    for (const bad of ['1.5', '-1', 'abc', String(2 ** 31)]) {
      expect(() => faultSeedOf(bad)).toThrow(
        `--fault-seed must be a whole number from 0 to 2147483647, got "${bad}"`,
      );
    }
  });

  it('repeats the same faults for the same seed, each mock its own', () => {
    expect(failures(seedOf(42, 'inventory'))).toEqual(failures(seedOf(42, 'inventory')));
    const seeds = [
      seedOf(42, 'crm'),
      seedOf(42, 'inventory'),
      seedOf(42, 'analytics'),
      seedOf(42, { side: 0 }),
    ];
    expect(new Set(seeds).size).toBe(4);
  });

  it('makes a 10% error rate behave as one over runs, not as the one unlucky sequence', () => {
    // The fixed seed the inventory mock had: requests 2 to 6 always failed, past every retry.
    expect(failures(seedOf(undefined, 'inventory')).slice(0, 7)).toEqual([
      false,
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
    expect(outlastsRetries(failures(seedOf(undefined, 'inventory')))).toBe(true);
    const runs = Array.from({ length: 2_000 }, (_, run) => failures(seedOf(run + 1, 'inventory')));
    const share = runs.flat().filter(Boolean).length / (runs.length * 20);
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
    // Five in a row within 20 requests: about 16 in 100,000 runs at 10%.
    expect(runs.filter(outlastsRetries).length).toBeLessThan(5);
  });

  it('is printed when the mocks inject random faults, with how to repeat them', () => {
    expect(faultSeedLine(TEN_PERCENT, 1234)).toBe(
      'Mock faults: 10% 500s, 0% 429s; fault seed 1234 (--fault-seed 1234 repeats them).',
    );
    expect(faultSeedLine({ ...TEN_PERCENT, errorRate: 0.07, throttleRate: 0.1 }, 5)).toBe(
      'Mock faults: 7% 500s, 10% 429s; fault seed 5 (--fault-seed 5 repeats them).',
    );
    expect(faultSeedLine({ latencyMs: 20, errorRate: 0, throttleRate: 0 }, 5)).toBeUndefined();
  });
});
