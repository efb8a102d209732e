import { readFileSync } from 'node:fs';
import type { MSKEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { loadFetchConfig, loadMergeConfig } from '../../shared/config.ts';
import { decodeMskEvent, encodeMskEvent } from '../../shared/domain/msk-event.ts';
import { ConfigError } from '../../shared/errors.ts';
import { maskEmails, maskSensitive } from '../../shared/logger.ts';

const fixture = JSON.parse(
  readFileSync(new URL('../events/msk-event.json', import.meta.url), 'utf8'),
) as MSKEvent;

describe('MSK events', () => {
  it('decodes base64 keys and values and byte-array headers, and tolerates a missing key', () => {
    const [first, second] = decodeMskEvent(structuredClone(fixture));
    expect(first).toMatchObject({
      topic: 'customer_data',
      partition: 0,
      offset: '15',
      key: '1',
      headers: { 'correlation-id': 'c-1', 'fetched-at': '2025-11-25T10:00:00Z' },
    });
    expect(JSON.parse(first?.value ?? '')).toMatchObject({ id: '1', email: 'ada@example.com' });
    expect(second).toMatchObject({ key: null, value: 'not json', headers: {} });
  });

  it('encodes records into the shape it decodes, grouped by topic-partition', () => {
    const records = decodeMskEvent(structuredClone(fixture));
    const event = encodeMskEvent(records, {
      eventSourceArn: fixture.eventSourceArn,
      bootstrapServers: fixture.bootstrapServers,
    });
    expect(Object.keys(event.records)).toEqual(['customer_data-0']);
    expect(event.records['customer_data-0']?.[1]).not.toHaveProperty('key');
    expect(decodeMskEvent(event)).toEqual(records);
  });
});

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
      REDIS_RETRY_MAX_DELAY_MS: 2_000,
      REDIS_SETTLE_MS: 30_000,
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
