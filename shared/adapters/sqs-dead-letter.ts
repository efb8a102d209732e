import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetter, DeadLetterSink } from '../ports.ts';

/** SQS allows ten messages per batch call. */
const SQS_BATCH = 10;

/** Dead letters on an SQS queue (on AWS). Throws if any message is not accepted. */
export class SqsDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(letters: DeadLetter[]): Promise<void> {
    for (let start = 0; start < letters.length; start += SQS_BATCH) {
      const chunk = letters.slice(start, start + SQS_BATCH);
      const answer = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((letter, index) => ({
            Id: String(index),
            MessageBody: JSON.stringify(letter),
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
