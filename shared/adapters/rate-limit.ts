/**
 * Spaces requests to at most `perSecond` a second, in the order they ask. Callers await `take()`
 * before each request; Retry-After and backoff are honoured separately by the retry loop.
 */
export class RateLimiter {
  #next = 0;
  readonly #intervalMs: number;

  constructor(
    perSecond: number,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
    private readonly now: () => number = Date.now,
  ) {
    this.#intervalMs = 1000 / perSecond;
  }

  /** Resolves when this caller may send its request. */
  async take(): Promise<void> {
    const now = this.now();
    const slot = Math.max(now, this.#next);
    this.#next = slot + this.#intervalMs;
    if (slot > now) await this.sleep(slot - now);
  }
}
