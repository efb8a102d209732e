import { loadMergeConfig } from '../../shared/config.ts';
import { createMergeHandler } from './handler.ts';
import { buildMergeRuntime } from './runtime.ts';

/** Lambda entry point: config is read and clients are built once per container. */
export const handler = createMergeHandler(buildMergeRuntime(loadMergeConfig()));
