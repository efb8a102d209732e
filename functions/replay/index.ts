import { loadMergeConfig } from '../../shared/config.ts';
import { buildMergeRuntime } from '../merge/runtime.ts';
import { createReplayHandler } from './handler.ts';

const runtime = buildMergeRuntime(loadMergeConfig());

/** Lambda entry point for draining the dead-letter queue back into Analytics. */
export const handler = createReplayHandler(() => runtime.ready());
