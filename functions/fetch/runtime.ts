import type { Logger } from '@aws-lambda-powertools/logger';
import { createKafka, KafkaPublisher } from '../../shared/adapters/kafka.ts';
import { secretReader } from '../../shared/adapters/secrets.ts';
import { HttpSourceReader } from '../../shared/adapters/source-reader.ts';
import { TopicQuarantineSink } from '../../shared/adapters/topic-sinks.ts';
import type { FetchConfig } from '../../shared/config.ts';
import type { RetryPolicy } from '../../shared/domain/retry-policy.ts';
import { createLogger } from '../../shared/logger.ts';
import { createMetrics, type MetricsSink } from '../../shared/metrics.ts';
import type { Publisher } from '../../shared/ports.ts';
import { SOURCES, type SourceDefinition, TOPICS } from '../../shared/sources/registry.ts';

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
};

export function retryPolicyOf(
  config: Pick<
    FetchConfig,
    'HTTP_MAX_ATTEMPTS' | 'HTTP_BASE_DELAY_MS' | 'HTTP_MAX_DELAY_MS' | 'HTTP_TIMEOUT_MS'
  >,
): RetryPolicy {
  return {
    maxAttempts: config.HTTP_MAX_ATTEMPTS,
    baseDelayMs: config.HTTP_BASE_DELAY_MS,
    maxDelayMs: config.HTTP_MAX_DELAY_MS,
    timeoutMs: config.HTTP_TIMEOUT_MS,
  };
}

/** Wires the fetch function's adapters from its config. Connects nothing until first use. */
export function buildFetchRuntime(config: FetchConfig, logger?: Logger): FetchRuntime {
  const source = SOURCES[config.SOURCE];
  const log = logger ?? createLogger(`fetch-${source.name}`, config.LOG_LEVEL);
  const kafka = createKafka(
    {
      brokers: config.KAFKA_BROKERS,
      clientId: `${config.KAFKA_CLIENT_ID}-fetch-${source.name}`,
      auth: config.KAFKA_AUTH,
      ...(config.AWS_REGION !== undefined && { region: config.AWS_REGION }),
    },
    (line) => log.warn(line),
  );
  const publisher = new KafkaPublisher(kafka, config.KAFKA_BROKERS);
  const token = secretReader(config.SOURCE_TOKEN_SECRET_ARN, 'token');
  return {
    config,
    source,
    logger: log,
    metrics: createMetrics(`fetch-${source.name}`, config.METRICS),
    publisher,
    topic: config.TOPIC_PREFIX + source.topic,
    quarantine: new TopicQuarantineSink(publisher, config.TOPIC_PREFIX + TOPICS.quarantine),
    newReader: () =>
      new HttpSourceReader({
        source,
        baseUrl: config.SOURCE_BASE_URL,
        policy: retryPolicyOf(config),
        ...(token && { token }),
        onRetry: (failure) =>
          log.warn('source request retried', { source: source.name, ...failure }),
      }),
  };
}
