/**
 * The base of every error the pipeline throws: a message with the context a person needs, and,
 * where an error is translated at a boundary (an HTTP client, the Kafka or Redis adapter), the
 * error it was translated from as `cause` (ErrorOptions), so a log line shows the root cause.
 * Powertools' `packages/kafka/src/errors.ts` is the model: one base class, each error a subclass
 * that passes its options up.
 */
export class PipelineError extends Error {
  override readonly name: string = 'PipelineError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A setting is missing or malformed. The message names the setting and what it must be. */
export class ConfigError extends PipelineError {
  override readonly name = 'ConfigError';
  constructor(
    readonly setting: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`Invalid configuration: ${detail}`, options);
  }
}

/** A source API answered with a status that is not retried, or kept failing past the retries. */
export class SourceHttpError extends PipelineError {
  override readonly name = 'SourceHttpError';
  constructor(
    readonly url: string,
    readonly status: number | undefined,
    readonly attempts: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`GET ${url} failed after ${attempts} attempt(s): ${detail}`, options);
  }
}

/** A source API answered 200 with a body that is not the page shape the registry declares. */
export class SourceResponseError extends PipelineError {
  override readonly name = 'SourceResponseError';
  constructor(
    readonly url: string,
    readonly reason: string,
    readonly body: string,
    options?: ErrorOptions,
  ) {
    super(`GET ${url} returned a malformed page: ${reason}`, options);
  }
}

/** The Analytics API refused a payload after every retry. */
export class AnalyticsDeliveryError extends PipelineError {
  override readonly name = 'AnalyticsDeliveryError';
  constructor(
    readonly status: number | undefined,
    readonly attempts: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`POST to Analytics failed after ${attempts} attempt(s): ${detail}`, options);
  }
}

/** Another invocation holds the same payload in progress for longer than we were willing to wait. */
export class DeliveryInProgressError extends PipelineError {
  override readonly name = 'DeliveryInProgressError';
  constructor(
    readonly hash: string,
    options?: ErrorOptions,
  ) {
    super(
      `payload ${hash} is being delivered by another invocation; failing the batch to retry`,
      options,
    );
  }
}

/** A dependency (Kafka, Redis) could not be reached at the address it was given. */
export class DependencyUnavailableError extends PipelineError {
  override readonly name = 'DependencyUnavailableError';
  constructor(
    readonly dependency: string,
    readonly address: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${dependency} is not reachable at ${address}: ${detail}`, options);
  }
}

/** A source's credentials are missing, malformed, or its token endpoint refused them. */
export class SourceAuthError extends PipelineError {
  override readonly name = 'SourceAuthError';
  constructor(
    readonly source: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`source "${source}" authentication failed: ${detail}`, options);
  }
}

/** A fetch run's pagination went wrong in a way no retry fixes (a loop, a foreign Link). */
export class PaginationError extends PipelineError {
  override readonly name = 'PaginationError';
  constructor(
    readonly source: string,
    readonly url: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`source "${source}" pagination failed at ${url}: ${detail}`, options);
  }
}

/**
 * A source page's body is larger than the source's `maxPageBytes`. Reading stopped at the limit,
 * nothing of the page was published, and the run fails with its cursor where it was.
 */
export class PageTooLargeError extends PipelineError {
  override readonly name = 'PageTooLargeError';
  constructor(
    readonly source: string,
    readonly url: string,
    readonly limitBytes: number,
    options?: ErrorOptions,
  ) {
    super(
      `source "${source}": the page at ${url} is larger than its maxPageBytes limit of ${limitBytes} bytes; nothing of it was published and the cursor did not move (ask for smaller pages, or raise maxPageBytes)`,
      options,
    );
  }
}
