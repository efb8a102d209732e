import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Log } from '../../shared/logger.ts';
import type { OnceDelivery } from '../../shared/ports.ts';
import { replayLetters } from '../../shared/use-cases/replay-letters.ts';

/** The delivery a replay needs: once per payload, its locks bounded by the invocation. */
export type ReplayDelivery = OnceDelivery & {
  registerInvocation(context: Pick<Context, 'getRemainingTimeInMillis'>): void;
};

/** A context for callers that are not Lambda (tests): 60 s to finish the letters. */
const LOCAL_CONTEXT = { getRemainingTimeInMillis: () => 60_000 };

/**
 * SQS-triggered replay: the event source mapping is created disabled; enable it to drain.
 * A payload in flight when the invocation ends stays locked for its remaining time at most.
 */
export function createReplayHandler(ready: () => Promise<{ delivery: ReplayDelivery; log: Log }>) {
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    const { delivery, log } = await ready();
    delivery.registerInvocation(context ?? LOCAL_CONTEXT);
    const { summary, failedIds } = await replayLetters(
      event.Records.map((record) => ({ id: record.messageId, body: record.body })),
      delivery,
      log,
    );
    log.info('replay summary', { summary });
    return { batchItemFailures: failedIds.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
