import type { TestProject } from 'vitest/node';
import { ensureRedis, provideKafka } from '../../local/environment.ts';
import { loadLocalConfig } from '../../shared/config.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    redisUrl: string;
  }
}

/**
 * Brings up what the integration tests need, once per run: the Kafka broker (unless
 * KAFKA_BROKERS names one) and Redis (started if none answers on loopback).
 */
export default async function setup(project: TestProject) {
  const config = loadLocalConfig();
  const say = (line: string) => process.stderr.write(`[test setup] ${line}\n`);
  await ensureRedis(config.REDIS_URL, say);
  const kafka = await provideKafka(config.KAFKA_BROKERS, say);
  project.provide('kafkaBrokers', kafka.brokers);
  project.provide('redisUrl', config.REDIS_URL);
  return async () => {
    await kafka.stop();
  };
}
