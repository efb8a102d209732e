import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Log } from '../../shared/logger.ts';
import { replayLetters } from '../../shared/pipeline/replay-letters.ts';
import type { OnceDelivery } from '../../shared/ports.ts';

/** SQS-triggered replay: the event source mapping is created disabled; enable it to drain. */
export function createReplayHandler(ready: () => Promise<{ delivery: OnceDelivery; log: Log }>) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const { delivery, log } = await ready();
    const { summary, failedIds } = await replayLetters(
      event.Records.map((record) => ({ id: record.messageId, body: record.body })),
      delivery,
      log,
    );
    log.info('replay summary', { summary });
    return { batchItemFailures: failedIds.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
