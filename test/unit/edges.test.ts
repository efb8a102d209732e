import { describe, expect, it } from 'vitest';
import { loadFetchConfig, loadMergeConfig } from '../../shared/config.ts';
import { ConfigError } from '../../shared/errors.ts';
import { maskEmails, maskSensitive } from '../../shared/logger.ts';

describe('configuration', () => {
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

describe('log masking', () => {
  it('masks emails wherever they appear', () => {
    expect(maskEmails('to jane.doe@example.com and x@y.org')).toBe(
      'to j***@e***.com and x***@y***.org',
    );
  });

  it('hides secret fields whatever their value', () => {
    expect(maskSensitive('password', 'hunter2')).toBe('***');
    expect(maskSensitive('authorization', 'Bearer abc')).toBe('***');
    expect(maskSensitive('name', 'Ada')).toBe('Ada');
  });
});
