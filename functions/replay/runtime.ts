import type { Logger } from '@aws-lambda-powertools/logger';
import type { Redis } from 'ioredis';
import type { ReplayConfig } from '../../shared/config.ts';
import { connectOnce } from '../../shared/connect-once.ts';
import { createLogger, type Log } from '../../shared/logger.ts';
import {
  buildDelivery,
  connectDeliveryRedis,
  type InvocationDelivery,
} from '../commons/delivery.ts';

/** What a replay works with: the merge's delivery (same records, sink, retries) and a logger. */
export type ReplayReady = { delivery: InvocationDelivery; log: Log };

/** The replay's dependencies, connected once per container and reused while warm. */
export type ReplayRuntime = {
  logger: Logger;
  ready(): Promise<ReplayReady>;
  close(): Promise<void>;
};

/** Wires the replay from its own settings: Redis and Analytics, no Kafka, no join state. */
export function buildReplayRuntime(config: ReplayConfig, logger?: Logger): ReplayRuntime {
  const log = logger ?? createLogger('replay', config.LOG_LEVEL);
  let redis: Redis | undefined;
  const connect = async (): Promise<ReplayReady> => {
    redis = await connectDeliveryRedis(config);
    return { delivery: buildDelivery(config, redis, { log }), log };
  };
  const ready = connectOnce(connect);
  return {
    logger: log,
    ready: ready.get,
    async close() {
      redis?.disconnect();
      ready.forget();
    },
  };
}
