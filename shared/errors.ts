/** A setting is missing or malformed. The message names the setting and what it must be. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly setting: string,
    detail: string,
  ) {
    super(`Invalid configuration: ${detail}`);
  }
}

/** A source API answered with a status that is not retried, or kept failing past the retries. */
export class SourceHttpError extends Error {
  override readonly name = 'SourceHttpError';
  constructor(
    readonly url: string,
    readonly status: number | undefined,
    readonly attempts: number,
    detail: string,
  ) {
    super(`GET ${url} failed after ${attempts} attempt(s): ${detail}`);
  }
}

/** A source API answered 200 with a body that is not the page shape the registry declares. */
export class SourceResponseError extends Error {
  override readonly name = 'SourceResponseError';
  constructor(
    readonly url: string,
    readonly reason: string,
    readonly body: string,
  ) {
    super(`GET ${url} returned a malformed page: ${reason}`);
  }
}

/** The Analytics API refused a payload after every retry. */
export class AnalyticsDeliveryError extends Error {
  override readonly name = 'AnalyticsDeliveryError';
  constructor(
    readonly status: number | undefined,
    readonly attempts: number,
    detail: string,
  ) {
    super(`POST to Analytics failed after ${attempts} attempt(s): ${detail}`);
  }
}

/** Another invocation holds the same payload in progress for longer than we were willing to wait. */
export class DeliveryInProgressError extends Error {
  override readonly name = 'DeliveryInProgressError';
  constructor(readonly hash: string) {
    super(`payload ${hash} is being delivered by another invocation; failing the batch to retry`);
  }
}

/** A dependency (Kafka, Redis) could not be reached at the address it was given. */
export class DependencyUnavailableError extends Error {
  override readonly name = 'DependencyUnavailableError';
  constructor(
    readonly dependency: string,
    readonly address: string,
    detail: string,
  ) {
    super(`${dependency} is not reachable at ${address}: ${detail}`);
  }
}

/** A source's credentials are missing, malformed, or its token endpoint refused them. */
export class SourceAuthError extends Error {
  override readonly name = 'SourceAuthError';
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`source "${source}" authentication failed: ${detail}`);
  }
}

/** A fetch run's pagination went wrong in a way no retry fixes (a loop, a foreign Link). */
export class PaginationError extends Error {
  override readonly name = 'PaginationError';
  constructor(
    readonly source: string,
    readonly url: string,
    detail: string,
  ) {
    super(`source "${source}" pagination failed at ${url}: ${detail}`);
  }
}

/**
 * A source page's body is larger than the source's `maxPageBytes`. Reading stopped at the limit,
 * nothing of the page was published, and the run fails with its cursor where it was.
 */
export class PageTooLargeError extends Error {
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
