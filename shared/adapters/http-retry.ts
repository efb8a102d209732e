import type { IncomingHttpHeaders } from 'node:http';
import {
  backoffDelay,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
} from '../domain/retry-policy.ts';
import { PipelineError } from '../errors.ts';
import {
  HttpExchangeError,
  type HttpRequest,
  HttpResponseTooLargeError,
  sendHttp,
} from './http-client.ts';

export type HttpAttemptFailure = {
  attempt: number;
  status?: number;
  error: string;
  delayMs: number;
  /**
   * The request was sent whole and no answer came (a timeout, a reset): the server may have
   * processed it, so the retry may deliver it twice at a server that ignores idempotency keys.
   * Always set by requestWithRetry.
   */
  ambiguous?: boolean;
};

export type HttpResult = {
  status: number;
  body: string;
  attempts: number;
  headers?: IncomingHttpHeaders;
  /** Retries that followed an ambiguous failure (see HttpAttemptFailure.ambiguous). */
  ambiguousRetries: number;
};

export type HttpRetryOptions = {
  policy: RetryPolicy;
  /** Called before each wait, for logs and retry counts. */
  onRetry?: (failure: HttpAttemptFailure) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Awaited before every attempt (a source's rate limit). */
  beforeAttempt?: () => Promise<void> | undefined;
  /** The clock an HTTP-date Retry-After is read against (ms since the epoch). */
  now?: () => number;
};

/**
 * Thrown when every try failed; carries the last status (if any) and the attempt count, and, when
 * the last try threw (a timeout, a reset), that error as its cause.
 */
export class HttpRetriesExhausted extends PipelineError {
  override readonly name = 'HttpRetriesExhausted';
  constructor(
    readonly status: number | undefined,
    readonly attempts: number,
    readonly lastError: string,
    options?: ErrorOptions,
  ) {
    super(lastError, options);
  }
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends a request, retrying network errors, timeouts, 408, 429 and 5xx with exponential backoff
 * and full jitter, honouring Retry-After. Every try sends the same request, headers included (an
 * `Idempotency-Key` stays the same). Resolves with the first non-retryable answer (2xx or 4xx);
 * throws HttpRetriesExhausted when the tries run out, and HttpResponseTooLargeError at once.
 */
export async function requestWithRetry(
  url: string,
  init: HttpRequest,
  options: HttpRetryOptions,
): Promise<HttpResult> {
  const {
    policy,
    onRetry,
    beforeAttempt,
    sleep = sleepFor,
    random = Math.random,
    now = Date.now,
  } = options;
  let last: { status?: number; error: string; ambiguous: boolean } = {
    error: 'not tried',
    ambiguous: false,
  };
  // The last try's thrown error, kept apart from `last` (which onRetry logs) as the cause.
  let lastThrown: unknown;
  let ambiguousRetries = 0;
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    let retryAfterMs: number | undefined;
    await beforeAttempt?.();
    try {
      const response = await sendHttp(url, init, policy.timeoutMs);
      const { body } = response;
      if (!isRetryableStatus(response.status)) {
        return {
          status: response.status,
          body,
          attempts: attempt,
          headers: response.headers,
          ambiguousRetries,
        };
      }
      const retryAfter = response.headers['retry-after'];
      retryAfterMs = parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : null, now());
      last = { status: response.status, error: `HTTP ${response.status}`, ambiguous: false };
      lastThrown = undefined;
    } catch (error) {
      // The same request would be answered with the same size: not a transient failure.
      if (error instanceof HttpResponseTooLargeError) throw error;
      lastThrown = error;
      last = {
        error: describeError(error),
        ambiguous: error instanceof HttpExchangeError && error.requestSent,
      };
    }
    if (attempt === policy.maxAttempts) break;
    if (last.ambiguous) ambiguousRetries++;
    const delayMs = backoffDelay(policy, attempt, retryAfterMs, random);
    onRetry?.({ attempt, ...last, delayMs });
    await sleep(delayMs);
  }
  throw new HttpRetriesExhausted(
    last.status,
    policy.maxAttempts,
    last.error,
    lastThrown === undefined ? undefined : { cause: lastThrown },
  );
}

function describeError(error: unknown): string {
  if (error instanceof HttpExchangeError) return error.message;
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
