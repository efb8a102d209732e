import { describe, expect, it } from 'vitest';
import { Limiter, mapWithConcurrency } from '../../shared/concurrency.ts';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('mapWithConcurrency', () => {
  it('keeps at most the limit in flight and answers in input order', async () => {
    let inFlight = 0;
    let most = 0;
    const results = await mapWithConcurrency([5, 1, 4, 2, 3], 2, async (ms, index) => {
      most = Math.max(most, ++inFlight);
      await tick(ms);
      inFlight--;
      return `${index}:${ms}`;
    });
    expect(results).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3']);
    expect(most).toBe(2);
  });

  it('rejects with the first error only once the work already started has finished', async () => {
    const finished: number[] = [];
    const started: number[] = [];
    const run = mapWithConcurrency([1, 2, 3, 4], 2, async (item) => {
      started.push(item);
      if (item === 2) throw new Error('item 2 failed');
      await tick(20);
      finished.push(item);
      return item;
    });
    await expect(run).rejects.toThrow('item 2 failed');
    expect(started).toEqual([1, 2]);
    expect(finished).toEqual([1]);
  });
});

describe('Limiter', () => {
  it('lets at most its limit run across callers, and every call through', async () => {
    const limiter = new Limiter(3);
    let inFlight = 0;
    let most = 0;
    const done = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        limiter.run(async () => {
          most = Math.max(most, ++inFlight);
          await tick(i % 3);
          inFlight--;
          return i;
        }),
      ),
    );
    expect(done).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(most).toBe(3);
  });

  it('gives the slot back when the work fails', async () => {
    const limiter = new Limiter(1);
    await expect(limiter.run(() => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(await limiter.run(async () => 'next')).toBe('next');
  });
});
