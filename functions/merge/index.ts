import type { Context, MSKEvent } from 'aws-lambda';
import { loadMergeConfig } from '../../shared/config.ts';
import { createMergeHandler, type KafkaBatchResponse } from './handler.ts';
import { buildMergeRuntime } from './runtime.ts';

const merge = createMergeHandler(buildMergeRuntime(loadMergeConfig()));

/**
 * Lambda entry point: config is read and clients are built once per container. It answers with
 * the partial batch response alone, the shape the event source mapping reads.
 */
export async function handler(event: MSKEvent, context: Context): Promise<KafkaBatchResponse> {
  const { batchItemFailures } = await merge(event, context);
  return { batchItemFailures };
}
