import type { Context } from 'aws-lambda';
import type { Kafka } from 'kafkajs';
import type { MergeConfig } from '../../shared/config.ts';
import type { RedriveSummary } from '../../shared/use-cases/redrive-batches.ts';
import type { MergeRuntime } from '../merge/runtime.ts';
import { redriveFailedBatches } from './failed-topics.ts';

/** What an operator may pass when invoking the function by hand (all optional). */
export type RedriveRequest = { chunkSize?: number; lockSeconds?: number };

/**
 * How long a payload being delivered stays locked against a second delivery (the in-progress
 * record of the idempotency store), as a live merge invocation's remaining time bounds it. A
 * re-drive that stops midway leaves its in-flight payloads locked this long at most; the next
 * re-drive waits for them (inProgressWaitMs) or leaves them for the one after.
 */
const DEFAULT_LOCK_SECONDS = 60;

/** Time kept back from the invocation's budget to commit and report. */
const MARGIN_MS = 20_000;

/**
 * Re-drives the failed_<topic> topics through the merge function's own runtime (join store,
 * idempotent delivery, dead-letter and quarantine sinks): invoked by hand on AWS, called by
 * `npm run redrive` locally. Returns the summary; `remaining` above 0 means run it again.
 */
export function createRedriveHandler(
  config: MergeConfig,
  runtime: MergeRuntime,
  kafka: Kafka,
  onProgress?: (done: RedriveSummary, left: number) => void,
) {
  return async (
    request: RedriveRequest = {},
    context?: Pick<Context, 'getRemainingTimeInMillis'>,
  ) => {
    const budget = context?.getRemainingTimeInMillis() ?? 15 * 60_000;
    const deadline = Date.now() + budget;
    const lockMs = (request.lockSeconds ?? DEFAULT_LOCK_SECONDS) * 1000;
    const deps = await runtime.ready();
    deps.delivery.registerInvocation({
      getRemainingTimeInMillis: () => Math.max(1000, Math.min(lockMs, deadline - Date.now())),
    });
    const prefix = config.TOPIC_PREFIX;
    const summary = await redriveFailedBatches({
      kafka,
      sourceTopics: config.sources.map((source) => prefix + source.topic),
      topicPrefix: prefix,
      groupId: `${prefix}redrive`,
      deps,
      ...(request.chunkSize !== undefined && { chunkSize: request.chunkSize }),
      timeoutMs: Math.max(budget - MARGIN_MS, 10_000),
      onProgress: (done, left) => {
        deps.log.info('re-drive progress', { done, left });
        onProgress?.(done, left);
      },
    });
    deps.log.info('re-drive summary', { summary });
    return summary;
  };
}
