import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { stackName } from '../../infra/naming.ts';
import { PipelineError } from '../../shared/errors.ts';

/**
 * The stack outputs `--unpark` reads: the dead-letter queue the replay function drains, and the
 * parking queue its redrive policy (maxReceiveCount) moves a letter to after that many tries.
 */
export const UNPARK_OUTPUTS = {
  deadLetters: 'DeadLetterQueueUrl',
  parking: 'DeadLetterParkingQueueUrl',
} as const;

export type UnparkQueues = { deadLetterUrl: string; parkingUrl: string };

/** What an unpark did: a move task started for all, or letters moved one by one (--limit). */
export type UnparkResult =
  | { kind: 'task'; taskHandle: string; parked: number }
  | { kind: 'moved'; moved: number; failed: number };

/** An unpark that could not start or finish; the letters not moved stay parked. */
export class UnparkError extends PipelineError {
  override readonly name = 'UnparkError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The two queue URLs of a stage's stack, from its outputs; throws naming a missing one. */
export async function unparkQueuesOf(
  stage: string,
  cloudFormation: CloudFormationClient = new CloudFormationClient({}),
): Promise<UnparkQueues> {
  const stack = stackName(stage);
  const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stack }));
  const outputs = Stacks?.[0]?.Outputs ?? [];
  const outputOf = (key: string) => {
    const value = outputs.find((output) => output.OutputKey === key)?.OutputValue;
    if (!value)
      throw new UnparkError(
        `stack ${stack} has no ${key} output: deploy the version with the dead-letter parking queue`,
      );
    return value;
  };
  return {
    deadLetterUrl: outputOf(UNPARK_OUTPUTS.deadLetters),
    parkingUrl: outputOf(UNPARK_OUTPUTS.parking),
  };
}

/**
 * Moves parked letters back to the dead-letter queue, where the replay function's trigger
 * delivers them (once the cause is fixed). Without a limit, one SQS message move task moves
 * them all: the parking queue is the dead-letter queue's own DLQ, which is what
 * StartMessageMoveTask accepts as a source
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html).
 * With a limit, at most that many are received, sent to the dead-letter queue with their
 * attributes, and deleted from the parking queue only once sent: a letter is never removed
 * before it is on the dead-letter queue, and one whose send failed becomes visible again.
 */
export async function unparkLetters(
  sqs: SQSClient,
  queues: UnparkQueues,
  options: { limit?: number; maxPerSecond?: number } = {},
): Promise<UnparkResult> {
  if (options.limit === undefined) {
    const [parkingArn, deadLetterArn, parked] = await Promise.all([
      attribute(sqs, queues.parkingUrl, 'QueueArn'),
      attribute(sqs, queues.deadLetterUrl, 'QueueArn'),
      attribute(sqs, queues.parkingUrl, 'ApproximateNumberOfMessages'),
    ]);
    const { TaskHandle } = await sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: parkingArn,
        DestinationArn: deadLetterArn,
        ...(options.maxPerSecond !== undefined && {
          MaxNumberOfMessagesPerSecond: options.maxPerSecond,
        }),
      }),
    );
    if (!TaskHandle) throw new UnparkError('SQS started no message move task (no TaskHandle)');
    return { kind: 'task', taskHandle: TaskHandle, parked: Number(parked) };
  }
  let moved = 0;
  let failed = 0;
  while (moved < options.limit) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues.parkingUrl,
        MaxNumberOfMessages: Math.min(10, options.limit - moved),
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
      }),
    );
    if (Messages.length === 0) break;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queues.deadLetterUrl,
        Entries: Messages.map((message, index) => ({
          Id: String(index),
          MessageBody: message.Body ?? '',
          ...(message.MessageAttributes && { MessageAttributes: message.MessageAttributes }),
        })),
      }),
    );
    const done = (sent.Successful ?? []).map((entry) => Number(entry.Id));
    failed += sent.Failed?.length ?? 0;
    if (done.length > 0) {
      const deleted = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queues.parkingUrl,
          Entries: done.map((index) => ({
            Id: String(index),
            ReceiptHandle: Messages[index]?.ReceiptHandle ?? '',
          })),
        }),
      );
      // A letter sent but not deleted is on both queues: the replay delivers it once (the
      // idempotency store) and the copy left parked is moved again by a later unpark.
      if (deleted.Failed?.length)
        throw new UnparkError(
          `${deleted.Failed.length} letter(s) were copied to the dead-letter queue but not removed from the parking queue: ${deleted.Failed.map((entry) => entry.Message).join('; ')}`,
        );
    }
    moved += done.length;
    if (done.length === 0) break; // every send failed: stop rather than spin on them
  }
  return { kind: 'moved', moved, failed };
}

async function attribute(
  sqs: SQSClient,
  queueUrl: string,
  name: 'QueueArn' | 'ApproximateNumberOfMessages',
): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [name] }),
  );
  const value = Attributes?.[name];
  if (value === undefined) throw new UnparkError(`SQS gave no ${name} for ${queueUrl}`);
  return value;
}
