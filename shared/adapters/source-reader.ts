import type { RetryPolicy } from '../domain/retry-policy.ts';
import {
  PageTooLargeError,
  PaginationError,
  SourceHttpError,
  SourceResponseError,
} from '../errors.ts';
import type { SourcePageReader } from '../ports.ts';
import type { SourceDefinition } from '../sources/definition.ts';
import { PageShapeError, parsePage, type SourcePage } from '../sources/page.ts';
import { HttpResponseTooLargeError } from './http-client.ts';
import { type HttpAttemptFailure, HttpRetriesExhausted, requestWithRetry } from './http-retry.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { SourceAuthenticator } from './source-auth.ts';

export type HttpSourceReaderOptions = {
  source: SourceDefinition;
  policy: RetryPolicy;
  pageSize: number;
  auth: SourceAuthenticator;
  /** Shared by every reader of the source in this container, so the rate holds across runs. */
  limiter?: RateLimiter | undefined;
  onRetry?: (failure: HttpAttemptFailure & { url: string }) => void;
};

/**
 * Reads pages of a source over HTTP in its declared shape, pagination and auth, at its declared
 * rate. A 401 renews an OAuth2 token once. A malformed body is retried like a 5xx (a truncated
 * answer is usually transient) and, if it stays malformed, throws SourceResponseError with the
 * body. A `Link` to another host throws PaginationError. A body past the source's maxPageBytes
 * is not read further and throws PageTooLargeError (not retried).
 */
export class HttpSourceReader implements SourcePageReader {
  #retries = 0;
  constructor(private readonly options: HttpSourceReaderOptions) {}

  get retries(): number {
    return this.#retries;
  }

  async readPage(href: string): Promise<SourcePage> {
    const { source, policy, pageSize } = this.options;
    for (let malformedTry = 1; ; malformedTry++) {
      const result = await this.#get(href);
      try {
        return parsePage(source, { url: href, body: result.body, link: result.link }, pageSize);
      } catch (error) {
        if (!(error instanceof PageShapeError)) throw error;
        if (error.message.startsWith('Link ')) {
          throw new PaginationError(source.name, href, error.message);
        }
        if (malformedTry >= policy.maxAttempts) {
          throw new SourceResponseError(href, error.message, result.body);
        }
        this.#retries++;
        this.options.onRetry?.({
          url: href,
          attempt: malformedTry,
          error: error.message,
          delayMs: 0,
        });
      }
    }
  }

  /** The URL without the query parameter that carries a secret, for checkpoints and logs. */
  redact(href: string): string {
    const param = this.options.auth.secretParam;
    if (!param) return href;
    const url = new URL(href);
    url.searchParams.delete(param);
    return url.toString();
  }

  async #get(href: string): Promise<{ body: string; link?: string }> {
    const { auth } = this.options;
    for (let renewed = false; ; renewed = true) {
      const url = new URL(href);
      const headers: Record<string, string> = { accept: 'application/json' };
      await auth.sign(url, headers);
      const result = await this.#send(url.toString(), href, headers);
      if (result.status === 401 && !renewed && auth.renew()) continue;
      if (result.status !== 200) {
        throw new SourceHttpError(href, result.status, result.attempts, `HTTP ${result.status}`);
      }
      const link = result.headers?.link;
      return { body: result.body, ...(typeof link === 'string' && { link }) };
    }
  }

  async #send(target: string, href: string, headers: Record<string, string>) {
    try {
      return await requestWithRetry(
        target,
        { method: 'GET', headers, maxResponseBytes: this.options.source.maxPageBytes },
        {
          policy: this.options.policy,
          ...(this.options.limiter && { beforeAttempt: () => this.options.limiter?.take() }),
          onRetry: (failure) => {
            this.#retries++;
            this.options.onRetry?.({ ...failure, url: href });
          },
        },
      );
    } catch (error) {
      if (error instanceof HttpRetriesExhausted) {
        throw new SourceHttpError(href, error.status, error.attempts, error.lastError);
      }
      if (error instanceof HttpResponseTooLargeError) {
        throw new PageTooLargeError(this.options.source.name, href, error.limitBytes, {
          cause: error,
        });
      }
      throw error;
    }
  }
}
