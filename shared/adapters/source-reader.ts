import type { RetryPolicy } from '../domain/retry-policy.ts';
import { SourceHttpError, SourceResponseError } from '../errors.ts';
import type { SourcePageReader } from '../ports.ts';
import { parsePage, type SourcePage } from '../sources/page.ts';
import type { SourceDefinition } from '../sources/registry.ts';
import { type HttpAttemptFailure, HttpRetriesExhausted, requestWithRetry } from './http-retry.ts';

export type HttpSourceReaderOptions = {
  source: SourceDefinition;
  baseUrl: string;
  policy: RetryPolicy;
  /** Returns the bearer token for the source, or undefined when it needs none. */
  token?: () => Promise<string | undefined>;
  onRetry?: (failure: HttpAttemptFailure & { url: string }) => void;
};

/**
 * Reads pages of a source over HTTP. A malformed body is retried like a 5xx (a truncated answer
 * is usually transient) and, if it stays malformed, throws SourceResponseError with the body.
 */
export class HttpSourceReader implements SourcePageReader {
  #retries = 0;
  constructor(private readonly options: HttpSourceReaderOptions) {}

  get retries(): number {
    return this.#retries;
  }

  async readPage(page: number, pageSize: number): Promise<SourcePage> {
    const { source, baseUrl, policy } = this.options;
    const url = new URL(source.path, baseUrl);
    url.searchParams.set(source.pagination.pageParam, String(page));
    url.searchParams.set(source.pagination.sizeParam, String(pageSize));
    const href = url.toString();
    const token = await this.options.token?.();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;

    for (let malformedTry = 1; ; malformedTry++) {
      const result = await this.#get(href, headers);
      try {
        return parsePage(source, result.body);
      } catch (error) {
        const reason = (error as Error).message;
        if (malformedTry >= policy.maxAttempts) {
          throw new SourceResponseError(href, reason, result.body);
        }
        this.#retries++;
        this.options.onRetry?.({ url: href, attempt: malformedTry, error: reason, delayMs: 0 });
      }
    }
  }

  async #get(href: string, headers: Record<string, string>) {
    try {
      const result = await requestWithRetry(
        href,
        { method: 'GET', headers },
        {
          policy: this.options.policy,
          onRetry: (failure) => {
            this.#retries++;
            this.options.onRetry?.({ ...failure, url: href });
          },
        },
      );
      if (result.status !== 200) {
        throw new SourceHttpError(href, result.status, result.attempts, `HTTP ${result.status}`);
      }
      return result;
    } catch (error) {
      if (error instanceof HttpRetriesExhausted) {
        throw new SourceHttpError(href, error.status, error.attempts, error.lastError);
      }
      throw error;
    }
  }
}
