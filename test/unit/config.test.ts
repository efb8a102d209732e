import { describe, expect, it } from 'vitest';
import {
  loadFetchConfig,
  loadMergeConfig,
  loadReplayConfig,
  loadTopicReplayConfig,
  retryPolicyOf,
} from '../../shared/config.ts';
import { ConfigError } from '../../shared/errors.ts';

describe('the merge and fetch settings', () => {
  const mergeEnv = {
    KAFKA_BROKERS: 'localhost:9092',
    REDIS_URL: 'redis://localhost:6379',
    ANALYTICS_URL: 'http://localhost:4000/analytics',
  };

  it('applies defaults to a minimal valid environment', () => {
    const config = loadMergeConfig(mergeEnv);
    expect(config).toMatchObject({
      KAFKA_BROKERS: ['localhost:9092'],
      IDEMPOTENCY_TTL_SECONDS: 86_400,
      REDIS_RETRY_MAX_DELAY_MS: 2_000,
      REDIS_SETTLE_MS: 30_000,
      LOG_LEVEL: 'INFO',
      DEAD_LETTER_TARGET: 'kafka',
    });
  });

  it('names a missing setting in one line', () => {
    const { REDIS_URL: _, ...withoutRedis } = mergeEnv;
    expect(() => loadMergeConfig(withoutRedis)).toThrow(
      new ConfigError('REDIS_URL', 'REDIS_URL is required'),
    );
  });

  it('names a malformed setting and what it must be', () => {
    expect(() =>
      loadFetchConfig({ KAFKA_BROKERS: 'nohost', SOURCE: 'crm', SOURCE_BASE_URL: 'http://x' }),
    ).toThrow('Invalid configuration: KAFKA_BROKERS.0 each broker must be host:port');
    expect(() =>
      loadFetchConfig({ KAFKA_BROKERS: 'a:1', SOURCE: 'erp', SOURCE_BASE_URL: 'http://x' }),
    ).toThrow('SOURCE must be one of crm, inventory');
    expect(() => loadMergeConfig({ ...mergeEnv, DEAD_LETTER_TARGET: 'sqs' })).toThrow(
      'DEAD_LETTER_QUEUE_URL is required when DEAD_LETTER_TARGET=sqs',
    );
    expect(() => loadMergeConfig({ ...mergeEnv, KAFKA_AUTH: 'iam' })).toThrow(
      'AWS_REGION is required when KAFKA_AUTH=iam',
    );
  });
});

describe('the replay settings', () => {
  const replayEnv = {
    REDIS_URL: 'redis://localhost:6379',
    ANALYTICS_URL: 'http://localhost:4000/analytics',
  };

  it('need only Redis and Analytics, and take the delivery mode the merge takes', () => {
    const config = loadReplayConfig({ ...replayEnv, ANALYTICS_DELIVERY: 'batch' });
    expect(config).toMatchObject({
      REDIS_KEY_PREFIX: '',
      IDEMPOTENCY_TTL_SECONDS: 86_400,
      REDIS_RETRY_MAX_DELAY_MS: 2_000,
      REDIS_SETTLE_MS: 30_000,
      analyticsBatch: { maxEvents: 500, body: 'array', eventIdField: 'eventId' },
    });
    expect(config).not.toHaveProperty('KAFKA_BROKERS');
    expect(loadReplayConfig(replayEnv)).not.toHaveProperty('analyticsBatch');
  });

  it('name a missing Analytics URL, as the merge does', () => {
    expect(() => loadReplayConfig({ REDIS_URL: replayEnv.REDIS_URL })).toThrow(
      new ConfigError('ANALYTICS_URL', 'ANALYTICS_URL is required'),
    );
  });

  it('for the dead_letter topic, also need the broker', () => {
    expect(() => loadTopicReplayConfig(replayEnv)).toThrow('KAFKA_BROKERS is required');
    expect(
      loadTopicReplayConfig({ ...replayEnv, KAFKA_BROKERS: 'a:1', TOPIC_PREFIX: 'run1.' }),
    ).toMatchObject({ KAFKA_BROKERS: ['a:1'], TOPIC_PREFIX: 'run1.' });
  });
});

describe('retryPolicyOf', () => {
  it('reads the HTTP_* settings into the policy the HTTP retries follow', () => {
    const config = loadReplayConfig({
      REDIS_URL: 'redis://localhost:6379',
      ANALYTICS_URL: 'http://localhost:4000/analytics',
      HTTP_MAX_ATTEMPTS: '3',
      HTTP_TIMEOUT_MS: '2500',
    });
    expect(retryPolicyOf(config)).toEqual({
      maxAttempts: 3,
      baseDelayMs: 200,
      maxDelayMs: 10_000,
      timeoutMs: 2500,
    });
  });
});
