/** Lets the event loop read what the network delivered (setImmediate runs after the poll phase). */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs `work` over the items with at most `limit` in flight, and resolves with the results in
 * input order. After a failure no more work starts; the run rejects with the first error once
 * the work already started has finished, so nothing is left running behind a failed call (a
 * POST whose completed mark would otherwise be written after the caller gave up).
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(runners);
  if (failure !== undefined) throw failure.error;
  return results;
}

/**
 * At most `limit` calls of `run` in flight at once, across every caller that shares it (the
 * requests of several parts of one batch share the sink's ANALYTICS_CONCURRENCY).
 */
export class Limiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#active < this.limit) this.#active++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      // The slot passes to the next waiter, or is given back.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}
