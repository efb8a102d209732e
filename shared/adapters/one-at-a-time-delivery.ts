import { Limiter, mapWithConcurrency } from '../concurrency.ts';
import type { MergedPayload } from '../domain/merge.ts';
import { AnalyticsDeliveryError, DeliveryInProgressError } from '../errors.ts';
import type { BatchOutcome, DeliveryItem, OnceDelivery, PayloadDelivery } from '../ports.ts';

/**
 * Single mode as an adapter of the delivery port: each payload is its own request (one POST to
 * `POST /analytics/data`, with its Idempotency-Key), so the merge reads one delivery path for
 * both modes.
 *
 * 1. A pre-check skips the payloads already delivered (the steady state of a fetch that brings
 *    unchanged records), one call per `deliverMany`, without the per-payload idempotency calls.
 * 2. The others are delivered one by one through `single`, at most `concurrency` at once across
 *    every call in flight (the parts of one batch share ANALYTICS_CONCURRENCY).
 * 3. A refusal after the retries (AnalyticsDeliveryError) comes back rejected with its reason;
 *    a payload another invocation holds past the wait (DeliveryInProgressError) comes back
 *    'held'. Any other error (Redis) fails the call once the deliveries started have finished.
 */
export class OneAtATimeDelivery implements OnceDelivery {
  readonly #requests: Limiter;

  constructor(
    private readonly single: PayloadDelivery,
    private readonly concurrency: number,
  ) {
    this.#requests = new Limiter(concurrency);
  }

  deliver(payload: MergedPayload, hash: string): Promise<'posted' | 'duplicate'> {
    return this.single.deliver(payload, hash);
  }

  async deliverMany(items: DeliveryItem[]): Promise<BatchOutcome[]> {
    const known = await this.single.delivered(items.map(({ hash }) => hash));
    return mapWithConcurrency<DeliveryItem, BatchOutcome>(
      items,
      this.concurrency,
      async ({ payload, hash }, index) =>
        known[index] ? 'duplicate' : this.#requests.run(() => this.#one(payload, hash)),
    );
  }

  async #one(payload: MergedPayload, hash: string): Promise<BatchOutcome> {
    try {
      return await this.single.deliver(payload, hash);
    } catch (error) {
      if (error instanceof DeliveryInProgressError) return 'held';
      if (!(error instanceof AnalyticsDeliveryError)) throw error;
      return { rejected: error.message, attempts: error.attempts, status: error.status };
    }
  }
}
