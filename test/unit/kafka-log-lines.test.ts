import { describe, expect, it } from 'vitest';
import { createKafka, kafkaLogLine } from '../../shared/adapters/kafka.ts';

describe("kafkajs's errors in our WARN lines", () => {
  it('carry the error kafkajs names, its component, broker and retry, not the bare message', () => {
    const lines: string[] = [];
    const kafka = createKafka(
      { brokers: ['127.0.0.1:9'], clientId: 'test', auth: 'none' },
      (line) => lines.push(line),
    );
    const logger = kafka.logger().namespace('Connection');
    logger.error('Response GroupCoordinator(key: 10, version: 2)', {
      broker: '127.0.0.1:9092',
      clientId: 'test',
      error: 'The group coordinator is not available',
      correlationId: 3,
      size: 55,
    });
    logger.warn('only a warning', { error: 'not at our level' });
    expect(lines).toEqual([
      'kafkajs [Connection] Response GroupCoordinator(key: 10, version: 2): The group coordinator is not available (broker 127.0.0.1:9092)',
    ]);
  });

  it('names the retry when kafkajs gives one, and reads as before when there is no error', () => {
    expect(
      kafkaLogLine('Consumer', {
        message: 'Crash: KafkaJSNumberOfRetriesExceeded',
        error: 'Connection error: connect ECONNREFUSED 127.0.0.1:38785',
        retryCount: 5,
      }),
    ).toBe(
      'kafkajs [Consumer] Crash: KafkaJSNumberOfRetriesExceeded: Connection error: connect ECONNREFUSED 127.0.0.1:38785 (retry 5)',
    );
    expect(kafkaLogLine('', { message: 'plain' })).toBe('kafkajs plain');
  });
});
