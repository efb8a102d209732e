import type { Logger } from '@aws-lambda-powertools/logger';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Redis } from 'ioredis';
import { RedisOrMemoryAttemptCounter } from '../../shared/adapters/attempt-counter.ts';
import type { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';
import { createKafka, KafkaPublisher, kafkaConnectionOf } from '../../shared/adapters/kafka.ts';
import { RedisJoinStore } from '../../shared/adapters/redis-join-store.ts';
import { RedisPendingIndex } from '../../shared/adapters/redis-pending-index.ts';
import { SqsDeadLetterSink } from '../../shared/adapters/sqs-dead-letter.ts';
import { TopicDeadLetterSink, TopicQuarantineSink } from '../../shared/adapters/topic-sinks.ts';
import type { MergeConfig } from '../../shared/config.ts';
import { connectOnce } from '../../shared/connect-once.ts';
import { failedTopicOf } from '../../shared/domain/failed-batch.ts';
import { createLogger } from '../../shared/logger.ts';
import { createMetrics, type MetricsSink } from '../../shared/metrics.ts';
import type { PendingIndex } from '../../shared/ports.ts';
import { sourceForTopic, TOPICS } from '../../shared/sources/registry.ts';
import type { MergeDeps } from '../../shared/use-cases/merge-batch.ts';
import type { OnDemandDeps } from '../../shared/use-cases/settle-on-demand.ts';
import {
  buildDelivery,
  connectDeliveryRedis,
  type InvocationDelivery,
} from '../commons/delivery.ts';
import { AnalyticsCallRecorder, type AnalyticsCalls } from './metrics.ts';

/** What the merge (and the sweeper and re-drive, which run on its runtime) work with. */
export type MergeReady = MergeDeps & {
  delivery: InvocationDelivery;
  pending: PendingIndex;
  /** Payloads the sweeper delivers at once (ANALYTICS_CONCURRENCY). */
  concurrency: number;
};

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
  /**
   * Set when MERGE_MAPPING_MODE=on-demand: the merge's own retry budget and failed-topic writer
   * (the mapping has neither). Usable while Redis is down (attempts then count in memory).
   */
  onDemand?: OnDemandDeps;
  close(): Promise<void>;
};

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
  const calls = new AnalyticsCallRecorder();
  let redis: Redis | undefined;

  const connect = async (): Promise<MergeReady> => {
    redis = await connectDeliveryRedis(config);
    const delivery = buildDelivery(config, redis, {
      log,
      onAmbiguousRetry: (payloads) => calls.ambiguousRetry(payloads),
      onLatency: (ms) => calls.latency(ms),
      ...(seams.cache && { wrapCache: seams.cache }),
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

  const deps = connectOnce(connect);
  const onDemand: OnDemandDeps | undefined =
    config.MERGE_MAPPING_MODE === 'on-demand'
      ? {
          attempts: new RedisOrMemoryAttemptCounter(() => redis, {
            prefix: config.REDIS_KEY_PREFIX,
            ttlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
          }),
          publisher,
          retryAttempts: config.MERGE_RETRY_ATTEMPTS,
          failedTopicFor: (topic) =>
            topic.startsWith(prefix)
              ? prefix + failedTopicOf(topic.slice(prefix.length))
              : failedTopicOf(topic),
        }
      : undefined;

  return {
    logger: log,
    metrics: createMetrics('merge', config.METRICS),
    ...(onDemand && { onDemand }),
    analyticsCalls: calls,
    ready: deps.get,
    async close() {
      await publisher.disconnect();
      redis?.disconnect();
      deps.forget();
    },
  };
}
