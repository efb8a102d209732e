import {
  type BatchFormat,
  batchBody,
  batchContentType,
  readVerdicts,
  requestKey,
} from '../domain/analytics-batch.ts';
import type { RetryPolicy } from '../domain/retry-policy.ts';
import { AnalyticsDeliveryError } from '../errors.ts';
import type { BatchAnalyticsSink, BatchRequestEvent } from '../ports.ts';
import { type HttpAttemptFailure, HttpRetriesExhausted, requestWithRetry } from './http-retry.ts';

export type BatchAnalyticsClientOptions = {
  url: string;
  policy: RetryPolicy;
  format: BatchFormat;
  token?: () => Promise<string | undefined>;
  /** Called before each retry; `hash` is the request's Idempotency-Key. */
  onRetry?: (failure: HttpAttemptFailure & { hash: string; events: number }) => void;
  /** Called with each request's time to a final answer, retries included. */
  onLatency?: (ms: number) => void;
  sleep?: (ms: number) => Promise<void>;
};

type Verdicts = Awaited<ReturnType<BatchAnalyticsSink['postBatch']>>;

/**
 * POSTs batches to a sink's batch API over the pooled connections of http-client.ts. Each
 * request carries `Idempotency-Key`: the SHA-256 of its events' ids (requestKey); every event
 * carries its own id in the declared field, so a sink can also de-duplicate event by event.
 * 429, 5xx and network errors retry the request (backoff, Retry-After: http-retry.ts); a 413
 * splits it in two; per-event rejections are read by readVerdicts.
 */
export class HttpBatchAnalyticsSink implements BatchAnalyticsSink {
  constructor(private readonly options: BatchAnalyticsClientOptions) {}

  async postBatch(events: BatchRequestEvent[]): Promise<Verdicts> {
    const { format } = this.options;
    const key = requestKey(events.map((event) => event.id));
    const token = await this.options.token?.();
    const headers: Record<string, string> = {
      'content-type': batchContentType(format),
      'idempotency-key': key,
    };
    if (token) headers.authorization = `Bearer ${token}`;
    const started = performance.now();
    try {
      const result = await requestWithRetry(
        this.options.url,
        { method: 'POST', headers, body: batchBody(events, format) },
        {
          policy: this.options.policy,
          onRetry: (failure) =>
            this.options.onRetry?.({ ...failure, hash: key, events: events.length }),
          ...(this.options.sleep && { sleep: this.options.sleep }),
        },
      );
      this.options.onLatency?.(performance.now() - started);
      if (result.status === 413 && events.length > 1) return this.#split(events, result.attempts);
      const verdicts = readVerdicts(result.status, result.body, events.length).map((verdict) =>
        verdict.accepted ? verdict : { ...verdict, status: result.status },
      );
      return { verdicts, attempts: result.attempts };
    } catch (error) {
      if (error instanceof HttpRetriesExhausted) {
        throw new AnalyticsDeliveryError(error.status, error.attempts, error.lastError, {
          cause: error,
        });
      }
      throw error;
    }
  }

  /** A request the sink found too large goes again as two halves. */
  async #split(events: BatchRequestEvent[], attempts: number): Promise<Verdicts> {
    const middle = Math.ceil(events.length / 2);
    const first = await this.postBatch(events.slice(0, middle));
    const second = await this.postBatch(events.slice(middle));
    return {
      verdicts: [...first.verdicts, ...second.verdicts],
      attempts: attempts + Math.max(first.attempts, second.attempts),
    };
  }
}
