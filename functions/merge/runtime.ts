import type { Logger } from '@aws-lambda-powertools/logger';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Redis } from 'ioredis';
import { HttpAnalyticsSink } from '../../shared/adapters/analytics-client.ts';
import { HttpBatchAnalyticsSink } from '../../shared/adapters/batch-analytics-client.ts';
import { BatchedDelivery } from '../../shared/adapters/batch-delivery.ts';
import { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';
import { createKafka, KafkaPublisher, kafkaConnectionOf } from '../../shared/adapters/kafka.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { RedisJoinStore } from '../../shared/adapters/redis-join-store.ts';
import { RedisPendingIndex } from '../../shared/adapters/redis-pending-index.ts';
import { secretReader } from '../../shared/adapters/secrets.ts';
import { SqsDeadLetterSink } from '../../shared/adapters/sqs-dead-letter.ts';
import { TopicDeadLetterSink, TopicQuarantineSink } from '../../shared/adapters/topic-sinks.ts';
import type { MergeConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import {
  type AnalyticsCalls,
  createMetrics,
  type MetricsSink,
  TimedAnalyticsSink,
} from '../../shared/metrics.ts';
import type { MergeDeps } from '../../shared/pipeline/merge-batch.ts';
import type { PendingIndex } from '../../shared/ports.ts';
import { sourceForTopic, TOPICS } from '../../shared/sources/registry.ts';
import { retryPolicyOf } from '../fetch/runtime.ts';

/** What the merge (and the sweeper and replay, which deliver the same way) work with. */
export type MergeReady = MergeDeps & { delivery: InvocationDelivery; pending: PendingIndex };

/** The merge function's dependencies, connected once per container and reused while warm. */
export type MergeRuntime = {
  logger: Logger;
  metrics: MetricsSink;
  /**
   * Times the Analytics POSTs and counts ambiguous retries; the handler drains both into the
   * metrics after each batch. `ambiguousRetries` is the count since the runtime was built.
   */
  analyticsCalls: { drain(): AnalyticsCalls; readonly ambiguousRetries: number };
  ready(): Promise<MergeReady>;
  close(): Promise<void>;
};

/** Either delivery mode, told the invocation's remaining time before each batch. */
type InvocationDelivery = IdempotentDelivery | BatchedDelivery;

/** Test seams of the local runtime (fault injection); the functions pass none. */
export type MergeRuntimeSeams = {
  /** Wraps the idempotency records' Redis client both delivery modes use. */
  cache?: (cache: IoRedisCacheClient) => IoRedisCacheClient;
};

export function buildMergeRuntime(
  config: MergeConfig,
  logger?: Logger,
  seams: MergeRuntimeSeams = {},
): MergeRuntime {
  const log = logger ?? createLogger('merge', config.LOG_LEVEL);
  const kafka = createKafka(kafkaConnectionOf(config, `merge`), (line) => log.warn(line));
  const publisher = new KafkaPublisher(kafka, config.KAFKA_BROKERS);
  const prefix = config.TOPIC_PREFIX;
  let redis: Redis | undefined;
  let timer: TimedAnalyticsSink | undefined;
  let ambiguousTotal = 0;
  let ambiguousSinceDrain = 0;
  let deps: Promise<MergeReady> | undefined;

  const connect = async (): Promise<MergeReady> => {
    const password = await secretReader(config.REDIS_AUTH_SECRET_ARN, 'password')?.();
    redis = await connectRedis({
      url: config.REDIS_URL,
      retryMaxDelayMs: config.REDIS_RETRY_MAX_DELAY_MS,
      ...(password !== undefined && { password }),
    });
    const token = secretReader(config.ANALYTICS_TOKEN_SECRET_ARN, 'token');
    const http = new HttpAnalyticsSink({
      url: config.ANALYTICS_URL,
      policy: retryPolicyOf(config),
      ...(token && { token }),
      onRetry: (failure) => {
        if (!failure.ambiguous) {
          log.warn('analytics request retried', failure);
          return;
        }
        // The sink may have processed the first try: a sink that ignores the Idempotency-Key
        // receives this payload twice. The hash lets an operator reconcile it.
        // A batch request counts once per payload in it: each may be processed twice.
        const exposed =
          'events' in failure && typeof failure.events === 'number' ? failure.events : 1;
        ambiguousTotal += exposed;
        ambiguousSinceDrain += exposed;
        log.warn('analytics request retried after an ambiguous failure', failure);
      },
    });
    const analytics = new TimedAnalyticsSink(http);
    timer = analytics;
    const client = new IoRedisCacheClient(redis, { settleWithinMs: config.REDIS_SETTLE_MS });
    const cache = seams.cache?.(client) ?? client;
    const format = config.analyticsBatch;
    const delivery: InvocationDelivery = format
      ? new BatchedDelivery({
          cache,
          analytics: new HttpBatchAnalyticsSink({
            url: config.ANALYTICS_URL,
            policy: retryPolicyOf(config),
            format,
            ...(token && { token }),
            onRetry: (failure) => http.options.onRetry?.(failure),
            onLatency: (ms) => analytics.record(ms),
          }),
          format,
          ttlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
          keyPrefix: config.REDIS_KEY_PREFIX,
          concurrency: config.ANALYTICS_CONCURRENCY,
        })
      : new IdempotentDelivery({
          cache,
          analytics,
          ttlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
          keyPrefix: config.REDIS_KEY_PREFIX,
        });
    const deadLetter =
      config.DEAD_LETTER_TARGET === 'sqs' && config.DEAD_LETTER_QUEUE_URL
        ? new SqsDeadLetterSink(new SQSClient({}), config.DEAD_LETTER_QUEUE_URL)
        : new TopicDeadLetterSink(publisher, prefix + TOPICS.deadLetter);
    return {
      joinStore: new RedisJoinStore(redis, {
        keyPrefix: config.REDIS_KEY_PREFIX,
        ttlSeconds: config.JOIN_TTL_SECONDS,
        join: config.join,
      }),
      join: config.join,
      pending: new RedisPendingIndex(redis, {
        keyPrefix: config.REDIS_KEY_PREFIX,
        join: config.join,
      }),
      delivery,
      deadLetter,
      quarantine: new TopicQuarantineSink(publisher, prefix + TOPICS.quarantine),
      log,
      sourceForTopic: (topic: string) =>
        topic.startsWith(prefix)
          ? sourceForTopic(topic.slice(prefix.length), config.sources)
          : undefined,
      concurrency: config.ANALYTICS_CONCURRENCY,
      maxRecordBytes: config.MAX_RECORD_BYTES,
    };
  };

  return {
    logger: log,
    metrics: createMetrics('merge', config.METRICS),
    analyticsCalls: {
      drain() {
        const ambiguousRetries = ambiguousSinceDrain;
        ambiguousSinceDrain = 0;
        return { latenciesMs: timer?.drain() ?? [], ambiguousRetries };
      },
      get ambiguousRetries() {
        return ambiguousTotal;
      },
    },
    ready() {
      deps ??= connect().catch((error: unknown) => {
        deps = undefined;
        throw error;
      });
      return deps;
    },
    async close() {
      await publisher.disconnect();
      redis?.disconnect();
      deps = undefined;
    },
  };
}
