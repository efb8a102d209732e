import { loadMergeConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import { createMetrics } from '../../shared/metrics.ts';
import { buildMergeRuntime } from '../merge/runtime.ts';
import { createSweepHandler } from './handler.ts';

const config = loadMergeConfig();
const runtime = buildMergeRuntime(config, createLogger('sweep', config.LOG_LEVEL));

/** Lambda entry point of the sweeper (EventBridge Scheduler, every minute): the merge's settings. */
export const handler = createSweepHandler(
  runtime,
  createMetrics('sweep', config.METRICS),
  config.SWEEP_LIMIT,
);
