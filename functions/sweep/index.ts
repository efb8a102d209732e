import { loadMergeConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import { createMetrics } from '../../shared/metrics.ts';
import { buildMergeRuntime } from '../merge/runtime.ts';
import { createSweepHandler } from './handler.ts';

const config = loadMergeConfig();
const runtime = buildMergeRuntime(config, createLogger('sweep', config.LOG_LEVEL));

/**
 * Lambda entry point of the sweeper (EventBridge Scheduler, every minute): the merge's settings.
 * Its metrics carry the join's name (dimensions `service`=sweep, `join`), as the alarm reads them.
 */
export const handler = createSweepHandler(
  runtime,
  createMetrics('sweep', config.METRICS, { join: config.join.name }),
  config.SWEEP_LIMIT,
);
