import type { MergedPayload } from '../domain/merge.ts';
import type { RetryPolicy } from '../domain/retry-policy.ts';
import { AnalyticsDeliveryError } from '../errors.ts';
import type { AnalyticsSink } from '../ports.ts';
import { type HttpAttemptFailure, HttpRetriesExhausted, requestWithRetry } from './http-retry.ts';

export type AnalyticsClientOptions = {
  url: string;
  policy: RetryPolicy;
  token?: () => Promise<string | undefined>;
  /** Called before each retry; `ambiguous` retries may reach a sink that ignores the key twice. */
  onRetry?: (failure: HttpAttemptFailure & { hash: string }) => void;
  /** Called with each delivered payload's time to its 2xx, retries included. */
  onLatency?: (ms: number) => void;
  /** How the client waits between tries (tests pass one that records the delays). */
  sleep?: (ms: number) => Promise<void>;
};

/**
 * POSTs payloads to the Analytics API over pooled keep-alive connections (http-client.ts).
 * 2xx is delivered; 4xx other than 408/429 is refused at once; the rest is retried.
 *
 * Every try of a payload carries `Idempotency-Key: <hash>`, the payload's identity. After an
 * ambiguous failure (a timeout or a reset once the request was sent) the sink may already have
 * processed the payload: a sink that honours the key answers the retry without processing it
 * again; one that ignores it receives it twice, and `onRetry` reports each such retry.
 */
export class HttpAnalyticsSink implements AnalyticsSink {
  constructor(readonly options: AnalyticsClientOptions) {}

  async post(payload: MergedPayload, hash: string): Promise<{ attempts: number }> {
    const token = await this.options.token?.();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': hash,
    };
    if (token) headers.authorization = `Bearer ${token}`;
    const started = performance.now();
    try {
      const result = await requestWithRetry(
        this.options.url,
        { method: 'POST', headers, body: JSON.stringify(payload) },
        {
          policy: this.options.policy,
          onRetry: (failure) => this.options.onRetry?.({ ...failure, hash }),
          ...(this.options.sleep && { sleep: this.options.sleep }),
        },
      );
      if (result.status >= 200 && result.status < 300) {
        this.options.onLatency?.(performance.now() - started);
        return { attempts: result.attempts };
      }
      throw new AnalyticsDeliveryError(
        result.status,
        result.attempts,
        `HTTP ${result.status} ${result.body.slice(0, 200)}`,
      );
    } catch (error) {
      if (error instanceof HttpRetriesExhausted) {
        throw new AnalyticsDeliveryError(error.status, error.attempts, error.lastError, {
          cause: error,
        });
      }
      throw error;
    }
  }
}
