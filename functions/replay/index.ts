import { loadMergeConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import { buildMergeRuntime } from '../merge/runtime.ts';
import { createReplayHandler } from './handler.ts';

const config = loadMergeConfig();
const runtime = buildMergeRuntime(config, createLogger('replay', config.LOG_LEVEL));

/** Lambda entry point for draining the dead-letter queue back into Analytics. */
export const handler = createReplayHandler(() => runtime.ready());
