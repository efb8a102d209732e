import { readFile } from 'node:fs/promises';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Redis } from 'ioredis';
import { createKafka, KafkaPublisher, kafkaConnectionOf } from '../../shared/adapters/kafka.ts';
import { RateLimiter } from '../../shared/adapters/rate-limit.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { RedisSyncState } from '../../shared/adapters/redis-sync-state.ts';
import { secretReader } from '../../shared/adapters/secrets.ts';
import { createAuthenticator, type SecretText } from '../../shared/adapters/source-auth.ts';
import { HttpSourceReader } from '../../shared/adapters/source-reader.ts';
import { TopicQuarantineSink } from '../../shared/adapters/topic-sinks.ts';
import { type FetchConfig, retryPolicyOf } from '../../shared/config.ts';
import { connectOnce } from '../../shared/connect-once.ts';
import { createLogger } from '../../shared/logger.ts';
import { createMetrics, type MetricsSink } from '../../shared/metrics.ts';
import type { Publisher, SyncStateAdmin, SyncStateStore } from '../../shared/ports.ts';
import { FieldSightings } from '../../shared/sources/contract.ts';
import { pageSizeOf, type SourceDefinition } from '../../shared/sources/definition.ts';
import { TOPICS } from '../../shared/sources/registry.ts';

/** Everything a fetch invocation needs, built once per container and reused while warm. */
export type FetchRuntime = {
  config: FetchConfig;
  source: SourceDefinition;
  logger: Logger;
  metrics: MetricsSink;
  publisher: Publisher & { disconnect(): Promise<void> };
  newReader: () => HttpSourceReader;
  quarantine: TopicQuarantineSink;
  topic: string;
  pageSize: number;
  /** Fields the source was seen to send, kept while the container is warm (new ones are logged once). */
  sightings: FieldSightings;
  /** The sync state store, connected on first use; undefined when REDIS_URL is not set. */
  state: () => Promise<(SyncStateStore & SyncStateAdmin) | undefined>;
  close(): Promise<void>;
};

/** The source secret's text, from Secrets Manager, a file (read once) or the setting itself. */
function secretTextOf(secret: FetchConfig['secret']): SecretText | undefined {
  if (secret === undefined) return undefined;
  if ('arn' in secret) return secretReader(secret.arn);
  if ('file' in secret) {
    let text: Promise<string> | undefined;
    return () => {
      text ??= readFile(secret.file, 'utf8');
      return text;
    };
  }
  return async () => secret.text;
}

/** Wires the fetch function's adapters from its config. Connects nothing until first use. */
export function buildFetchRuntime(config: FetchConfig, logger?: Logger): FetchRuntime {
  const { source } = config;
  const log = logger ?? createLogger(`fetch-${source.name}`, config.LOG_LEVEL);
  const kafka = createKafka(kafkaConnectionOf(config, `fetch-${source.name}`), (line) =>
    log.warn(line),
  );
  const publisher = new KafkaPublisher(kafka, config.KAFKA_BROKERS);
  const policy = retryPolicyOf(config);
  // Built once per container: an OAuth2 token and the rate limit outlive one invocation.
  const auth = createAuthenticator(source.name, source.auth, secretTextOf(config.secret), policy);
  const limiter = source.rateLimit ? new RateLimiter(source.rateLimit) : undefined;
  const pageSize = pageSizeOf(source, config.PAGE_SIZE);
  const redisUrl = config.REDIS_URL;
  const redis =
    redisUrl === undefined
      ? undefined
      : connectOnce(async (): Promise<Redis> => {
          const password = await secretReader(config.REDIS_AUTH_SECRET_ARN, 'password')?.();
          return connectRedis({ url: redisUrl, ...(password !== undefined && { password }) });
        });
  return {
    config,
    source,
    logger: log,
    metrics: createMetrics(`fetch-${source.name}`, config.METRICS),
    publisher,
    pageSize,
    sightings: new FieldSightings(),
    topic: config.TOPIC_PREFIX + source.topic,
    quarantine: new TopicQuarantineSink(publisher, config.TOPIC_PREFIX + TOPICS.quarantine),
    newReader: () =>
      new HttpSourceReader({
        source,
        policy,
        pageSize,
        auth,
        limiter,
        onRetry: (failure) =>
          log.warn('source request retried', { source: source.name, ...failure }),
      }),
    async state() {
      if (redis === undefined) return undefined;
      return new RedisSyncState(await redis.get(), config.REDIS_KEY_PREFIX);
    },
    async close() {
      await publisher.disconnect();
      (await redis?.settled())?.disconnect();
    },
  };
}
