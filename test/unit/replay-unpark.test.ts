import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { UnparkError, unparkLetters, unparkQueuesOf } from '../../tools/replay/unpark.ts';
import { unparkCommand } from '../../tools/replay/unpark-cli.ts';

const sqs = mockClient(SQSClient);
const cloudFormation = mockClient(CloudFormationClient);
const queues = {
  deadLetterUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dev-pipeline-dead-letters',
  parkingUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dev-pipeline-dead-letters-parked',
};
const arnOf = (url: string) => `arn:aws:sqs:eu-west-1:123456789012:${url.split('/').at(-1)}`;

/** A parking queue holding these letters; receives hand out up to MaxNumberOfMessages. */
function parked(bodies: string[]) {
  const left = bodies.map((body, i) => ({
    MessageId: `m${i}`,
    ReceiptHandle: `r${i}`,
    Body: body,
    MessageAttributes: { reason: { DataType: 'String', StringValue: `HTTP 400 #${i}` } },
  }));
  sqs.on(ReceiveMessageCommand).callsFake((input: { MaxNumberOfMessages?: number }) => ({
    Messages: left.splice(0, input.MaxNumberOfMessages ?? 1),
  }));
  return left;
}

afterEach(() => {
  sqs.reset();
  cloudFormation.reset();
});

describe('moving parked letters back to the dead-letter queue', () => {
  it('starts one SQS message move task from the parking queue to the dead-letter queue', async () => {
    sqs
      .on(GetQueueAttributesCommand)
      .callsFake((input: { QueueUrl: string; AttributeNames: string[] }) => ({
        Attributes: input.AttributeNames.includes('QueueArn')
          ? { QueueArn: arnOf(input.QueueUrl) }
          : { ApproximateNumberOfMessages: '7' },
      }));
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
    const result = await unparkLetters(new SQSClient({}), queues, { maxPerSecond: 5 });
    expect(result).toEqual({ kind: 'task', taskHandle: 'task-1', parked: 7 });
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0]?.args[0].input).toEqual({
      SourceArn: arnOf(queues.parkingUrl),
      DestinationArn: arnOf(queues.deadLetterUrl),
      MaxNumberOfMessagesPerSecond: 5,
    });
  });

  it('with a limit, sends at most that many with their attributes, and deletes only those sent', async () => {
    parked(Array.from({ length: 14 }, (_, i) => `{"payload":{"id":"${i}"}}`));
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      // The second entry of each batch fails: it must stay parked.
      Successful: input.Entries.filter((entry) => entry.Id !== '1').map((entry) => ({
        Id: entry.Id,
      })),
      Failed: input.Entries.filter((entry) => entry.Id === '1').map((entry) => ({
        Id: entry.Id,
        Code: 'InternalError',
        SenderFault: false,
      })),
    }));
    sqs.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const result = await unparkLetters(new SQSClient({}), queues, { limit: 12 });
    expect(result).toEqual({ kind: 'moved', moved: 12, failed: 2 });
    const sends = sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
    expect(sends.map((input) => input.QueueUrl)).toEqual([
      queues.deadLetterUrl,
      queues.deadLetterUrl,
      queues.deadLetterUrl,
    ]);
    expect(sends[0]?.Entries?.[0]).toEqual({
      Id: '0',
      MessageBody: '{"payload":{"id":"0"}}',
      MessageAttributes: { reason: { DataType: 'String', StringValue: 'HTTP 400 #0' } },
    });
    const deleted = sqs
      .commandCalls(DeleteMessageBatchCommand)
      .flatMap((call) => call.args[0].input.Entries?.map((entry) => entry.ReceiptHandle) ?? []);
    expect(deleted).not.toContain('r1');
    expect(deleted).not.toContain('r11');
    expect(deleted).toHaveLength(12);
    expect(
      sqs
        .commandCalls(DeleteMessageBatchCommand)
        .every((call) => call.args[0].input.QueueUrl === queues.parkingUrl),
    ).toBe(true);
  });

  it('stops when the parking queue is empty, and moves nothing twice', async () => {
    parked(['a', 'b']);
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
      Successful: input.Entries.map((entry) => ({ Id: entry.Id })),
    }));
    sqs.on(DeleteMessageBatchCommand).resolves({});
    expect(await unparkLetters(new SQSClient({}), queues, { limit: 50 })).toEqual({
      kind: 'moved',
      moved: 2,
      failed: 0,
    });
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  it('says so when a letter was copied but could not be removed from the parking queue', async () => {
    parked(['a']);
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [{ Id: '0', MessageId: 'x', MD5OfMessageBody: '' }] });
    sqs.on(DeleteMessageBatchCommand).resolves({
      Failed: [{ Id: '0', Code: 'ReceiptHandleIsInvalid', SenderFault: true, Message: 'expired' }],
    });
    await expect(unparkLetters(new SQSClient({}), queues, { limit: 5 })).rejects.toThrow(
      UnparkError,
    );
  });

  it('reads both queue URLs from the stack outputs, and names a missing one', async () => {
    cloudFormation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'dev-kafka-merge-pipeline',
          CreationTime: new Date(0),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [
            { OutputKey: 'DeadLetterQueueUrl', OutputValue: queues.deadLetterUrl },
            { OutputKey: 'DeadLetterParkingQueueUrl', OutputValue: queues.parkingUrl },
          ],
        },
      ],
    });
    expect(await unparkQueuesOf('dev', new CloudFormationClient({}))).toEqual(queues);
    cloudFormation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'dev-kafka-merge-pipeline',
          CreationTime: new Date(0),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [{ OutputKey: 'DeadLetterQueueUrl', OutputValue: queues.deadLetterUrl }],
        },
      ],
    });
    await expect(unparkQueuesOf('dev', new CloudFormationClient({}))).rejects.toThrow(
      'stack dev-kafka-merge-pipeline has no DeadLetterParkingQueueUrl output',
    );
  });

  it('the command refuses bad flags before calling AWS', async () => {
    const lines: string[] = [];
    expect(await unparkCommand(['--unpark'], (line) => lines.push(line))).toBe(2);
    expect(
      await unparkCommand(['--aws', '--unpark', '--limit', '0'], (line) => lines.push(line)),
    ).toBe(2);
    expect(
      await unparkCommand(['--aws', '--unpark', '--rate', '501'], (line) => lines.push(line)),
    ).toBe(2);
    expect(lines).toEqual([
      '--unpark moves letters between SQS queues of a deployed stack: add --aws',
      '--limit takes a whole number of letters, got "0"',
      '--rate takes 1 to 500 messages per second (SQS\'s limit), got "501"',
    ]);
    expect(sqs.calls()).toHaveLength(0);
    expect(cloudFormation.calls()).toHaveLength(0);
  });
});
