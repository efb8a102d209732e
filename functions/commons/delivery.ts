import type { Redis } from 'ioredis';
import { HttpAnalyticsSink } from '../../shared/adapters/analytics-client.ts';
import { HttpBatchAnalyticsSink } from '../../shared/adapters/batch-analytics-client.ts';
import { BatchedDelivery } from '../../shared/adapters/batch-delivery.ts';
import type { HttpAttemptFailure } from '../../shared/adapters/http-retry.ts';
import { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { secretReader } from '../../shared/adapters/secrets.ts';
import { type ReplayConfig, retryPolicyOf } from '../../shared/config.ts';
import type { Log } from '../../shared/logger.ts';

/**
 * The Analytics delivery of the merge and of the replay (and of the sweeper and re-drive, which
 * run on the merge's runtime): one wiring, so a replayed payload meets the same idempotency
 * records, sink and retries as the merge's.
 */

/** The settings the delivery is built from; the merge's config has them too. */
export type DeliveryConfig = Omit<ReplayConfig, 'LOG_LEVEL'>;

/** Either delivery mode, told the invocation's remaining time before each batch. */
export type InvocationDelivery = IdempotentDelivery | BatchedDelivery;

export type DeliveryHooks = {
  log: Log;
  /** Told of each retry after an ambiguous failure, with how many payloads it exposes. */
  onAmbiguousRetry?: (payloads: number) => void;
  /** Told each Analytics request's time to its final answer, retries included. */
  onLatency?: (ms: number) => void;
  /** Wraps the idempotency records' Redis client (fault injection in the local runtime). */
  wrapCache?: (cache: IoRedisCacheClient) => IoRedisCacheClient;
};

/** Connects the Redis of the idempotency records, with its AUTH secret when one is set. */
export async function connectDeliveryRedis(config: DeliveryConfig): Promise<Redis> {
  const password = await secretReader(config.REDIS_AUTH_SECRET_ARN, 'password')?.();
  return connectRedis({
    url: config.REDIS_URL,
    retryMaxDelayMs: config.REDIS_RETRY_MAX_DELAY_MS,
    ...(password !== undefined && { password }),
  });
}

/** The delivery ANALYTICS_DELIVERY names, over the idempotency records in `redis`. */
export function buildDelivery(
  config: DeliveryConfig,
  redis: Redis,
  hooks: DeliveryHooks,
): InvocationDelivery {
  const { log } = hooks;
  const token = secretReader(config.ANALYTICS_TOKEN_SECRET_ARN, 'token');
  const policy = retryPolicyOf(config);
  const onRetry = (failure: HttpAttemptFailure & { hash: string; events?: number }) => {
    if (!failure.ambiguous) {
      log.warn('analytics request retried', failure);
      return;
    }
    // The sink may have processed the first try: a sink that ignores the Idempotency-Key
    // receives this payload twice. The hash lets an operator reconcile it.
    // A batch request counts once per payload in it: each may be processed twice.
    hooks.onAmbiguousRetry?.(failure.events ?? 1);
    log.warn('analytics request retried after an ambiguous failure', failure);
  };
  const client = new IoRedisCacheClient(redis, { settleWithinMs: config.REDIS_SETTLE_MS });
  const cache = hooks.wrapCache?.(client) ?? client;
  const format = config.analyticsBatch;
  if (format) {
    return new BatchedDelivery({
      cache,
      analytics: new HttpBatchAnalyticsSink({
        url: config.ANALYTICS_URL,
        policy,
        format,
        ...(token && { token }),
        onRetry,
        ...(hooks.onLatency && { onLatency: hooks.onLatency }),
      }),
      format,
      ttlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
      keyPrefix: config.REDIS_KEY_PREFIX,
      concurrency: config.ANALYTICS_CONCURRENCY,
    });
  }
  return new IdempotentDelivery({
    cache,
    analytics: new HttpAnalyticsSink({
      url: config.ANALYTICS_URL,
      policy,
      ...(token && { token }),
      onRetry,
      ...(hooks.onLatency && { onLatency: hooks.onLatency }),
    }),
    ttlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
    keyPrefix: config.REDIS_KEY_PREFIX,
    concurrency: config.ANALYTICS_CONCURRENCY,
  });
}
