import { loadFetchConfig } from '../../shared/config.ts';
import { createFetchHandler } from './handler.ts';
import { buildFetchRuntime } from './runtime.ts';

/** Lambda entry point: config is read and clients are built once per container. */
export const handler = createFetchHandler(buildFetchRuntime(loadFetchConfig()));
