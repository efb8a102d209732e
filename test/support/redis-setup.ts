import type { TestProject } from 'vitest/node';
import { ensureRedis } from '../../local/environment.ts';
import { loadLocalConfig } from '../../shared/config.ts';

/**
 * The global setup of the suites that need Redis but not Kafka (the mutation run): Redis is
 * started if none answers on loopback; no broker is started, so `kafkaBrokers` is empty.
 */
export default async function setup(project: TestProject) {
  const config = loadLocalConfig();
  await ensureRedis(config.REDIS_URL, (line) => process.stderr.write(`[test setup] ${line}\n`));
  project.provide('kafkaBrokers', '');
  project.provide('redisUrl', config.REDIS_URL);
}
