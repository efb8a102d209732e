import { loadReplayConfig } from '../../shared/config.ts';
import { createReplayHandler } from './handler.ts';
import { buildReplayRuntime } from './runtime.ts';

const runtime = buildReplayRuntime(loadReplayConfig());

/** Lambda entry point for draining the dead-letter queue back into Analytics. */
export const handler = createReplayHandler(() => runtime.ready());
