import { createKafka, kafkaConnectionOf } from '../../shared/adapters/kafka.ts';
import { loadMergeConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import { buildMergeRuntime } from '../merge/runtime.ts';
import { createRedriveHandler } from './handler.ts';

const config = loadMergeConfig();
const logger = createLogger('redrive', config.LOG_LEVEL);
const kafka = createKafka(kafkaConnectionOf(config, `redrive`), (line) => logger.warn(line));

/**
 * Lambda entry point, invoked by hand once Redis and Analytics are healthy:
 * `aws lambda invoke --function-name <RedriveFunctionName> out.json` (docs/deploy.md).
 */
export const handler = createRedriveHandler(config, buildMergeRuntime(config, logger), kafka);
