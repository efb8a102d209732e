/** How a network call is retried. Delays are in milliseconds. */
export type RetryPolicy = {
  /** Total tries, the first one included. */
  maxAttempts: number;
  /** Backoff base: the cap of the first retry's delay. */
  baseDelayMs: number;
  /** No single wait is longer than this, Retry-After included. */
  maxDelayMs: number;
  /** Each try is aborted after this long. */
  timeoutMs: number;
};

/**
 * The wait before retry number `retry` (1 for the first retry): exponential backoff with full
 * jitter, or the server's Retry-After when it asks for longer, capped at maxDelayMs.
 */
export function backoffDelay(
  policy: RetryPolicy,
  retry: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  const jittered = Math.floor(random() * ceiling);
  const wait = retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
  return Math.min(wait, policy.maxDelayMs);
}

/** Parses a Retry-After header (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(
  header: string | null,
  now: number = Date.now(),
): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Whether an HTTP status is worth another try: throttling and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}
