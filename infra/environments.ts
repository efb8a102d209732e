import type { AdminEnvironment, MergeEnvironment, ReplayEnvironment } from '../shared/config.ts';
import type { DeployConfig } from './config.ts';
import { sourcesJson } from './config-sources.ts';

/**
 * The environments of the delivering functions, typed by the names the config module parses:
 * `deliveryEnv` (where and how payloads are delivered once: the replay's, and part of every
 * other) and `mergeEnv` (the merge's, which the re-drive and the sweeper share).
 */
export function functionEnvironments(
  config: DeployConfig,
  parts: { kafkaEnv: AdminEnvironment; cacheUrl: string; deadLetterQueueUrl: string },
): { deliveryEnv: ReplayEnvironment; mergeEnv: MergeEnvironment } {
  const deliveryEnv = {
    LOG_LEVEL: 'INFO',
    REDIS_URL: parts.cacheUrl,
    ANALYTICS_URL: config.analyticsUrl,
    ...config.analyticsDelivery,
  } satisfies ReplayEnvironment;
  const sources = sourcesJson(
    config,
    config.sources.map((source) => source.name),
  );
  const mergeEnv = {
    ...parts.kafkaEnv,
    ...deliveryEnv,
    DEAD_LETTER_TARGET: 'sqs',
    DEAD_LETTER_QUEUE_URL: parts.deadLetterQueueUrl,
    ...(config.joinJson !== undefined && { PIPELINE_JOIN: config.joinJson }),
    // Mappings without provisioned pollers (the small profile): the merge keeps the retry
    // budget and the failure topic those mappings cannot have (docs/design.md).
    ...(config.target === 'aws' &&
      config.shape.mappingMode === 'on-demand' && {
        MERGE_MAPPING_MODE: 'on-demand',
        MERGE_RETRY_ATTEMPTS: String(config.mergeRetryAttempts),
      }),
    ...(sources !== undefined && { PIPELINE_SOURCES: sources }),
  } satisfies MergeEnvironment;
  return { deliveryEnv, mergeEnv };
}
