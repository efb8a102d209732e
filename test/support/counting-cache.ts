import type { DeliveryCache } from '../../shared/adapters/once-delivery.ts';

type CacheValue = string | Uint8Array;

/**
 * Wraps a DeliveryCache (in memory or Redis) and counts what goes through the port, so a test can
 * measure a cost (claims written, records read) without spying on the adapter's internals.
 */
export class CountingCache implements DeliveryCache {
  /** Conditional writes (SET NX): each one is a claim on a payload. */
  claims = 0;
  /** Claims the store refused because a record was already there. */
  claimsRefused = 0;
  /** Unconditional writes: COMPLETED records, orphan take-overs. */
  writes = 0;
  /** Keys read. */
  keysRead = 0;

  constructor(private readonly inner: DeliveryCache) {}

  get(name: string): Promise<CacheValue | null> {
    this.keysRead++;
    return this.inner.get(name);
  }

  async set(name: CacheValue, value: unknown, options?: unknown): Promise<CacheValue | null> {
    const claim = (options as { NX?: boolean } | undefined)?.NX === true;
    if (claim) this.claims++;
    else this.writes++;
    const answer = await this.inner.set(name, value, options);
    if (claim && answer === null) this.claimsRefused++;
    return answer;
  }

  del(keys: string[]): Promise<number> {
    return this.inner.del(keys);
  }
}
