import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetter, DeadLetterSink } from '../ports.ts';

/** SQS takes at most ten messages and 256 KiB (all messages together) per batch call. */
const SQS_BATCH = 10;
const SQS_BATCH_BYTES = 256 * 1024;
/** Room left in each message for its attributes. */
const ATTRIBUTE_ALLOWANCE = 1024;

/**
 * Splits letters into SendMessageBatch calls that stay within SQS's count and size limits.
 * Throws when one letter alone is larger than SQS takes, naming its id and size.
 */
export function sqsBatches(letters: DeadLetter[]): { letter: DeadLetter; body: string }[][] {
  const batches: { letter: DeadLetter; body: string }[][] = [];
  let current: { letter: DeadLetter; body: string }[] = [];
  let bytes = 0;
  for (const letter of letters) {
    const body = JSON.stringify(letter);
    const size = Buffer.byteLength(body) + ATTRIBUTE_ALLOWANCE;
    if (size > SQS_BATCH_BYTES) {
      throw new Error(
        `dead letter for id ${letter.payload.id} is ${size} bytes, over the ${SQS_BATCH_BYTES}-byte SQS limit`,
      );
    }
    if (current.length === SQS_BATCH || bytes + size > SQS_BATCH_BYTES) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push({ letter, body });
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Dead letters on an SQS queue (on AWS). Throws if any message is not accepted. */
export class SqsDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(letters: DeadLetter[]): Promise<void> {
    for (const chunk of sqsBatches(letters)) {
      const answer = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map(({ letter, body }, index) => ({
            Id: String(index),
            MessageBody: body,
            MessageAttributes: {
              reason: { DataType: 'String', StringValue: letter.reason.slice(0, 256) },
              hash: { DataType: 'String', StringValue: letter.hash },
            },
          })),
        }),
      );
      const failed = answer.Failed ?? [];
      if (failed.length > 0) {
        const detail = failed
          .map((entry) => `${entry.Id}: ${entry.Code} ${entry.Message ?? ''}`)
          .join('; ');
        throw new Error(`SQS refused ${failed.length} dead letter(s): ${detail}`);
      }
    }
  }
}
