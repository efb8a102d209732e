import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { pendingOnAws } from '../../tools/pending/aws.ts';

const cloudformation = mockClient(CloudFormationClient);
const lambda = mockClient(LambdaClient);
afterEach(() => {
  cloudformation.reset();
  lambda.reset();
});

const NOW = Date.parse('2026-11-26T12:00:00Z');
const answer = {
  join: 'main',
  required: ['customer', 'inventory'],
  stats: { pending: 2, oldestFirstSeenMs: NOW - 3_725_000 },
  pending: [
    { id: '10', firstSeenMs: NOW - 3_725_000, sides: ['inventory'], emitted: true },
    { id: '7', firstSeenMs: NOW - 12_000, sides: ['customer'], emitted: false },
  ],
};
const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('npm run pending -- --aws', () => {
  it("invokes the stack's sweeper with the listing request and prints its answer", async () => {
    cloudformation.on(DescribeStacksCommand, { StackName: 'prod-kafka-merge-pipeline' }).resolves({
      Stacks: [
        {
          StackName: 'prod-kafka-merge-pipeline',
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [{ OutputKey: 'SweepFunctionName', OutputValue: 'prod-sweep-fn' }],
        },
      ],
    });
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload(answer) as never });
    const lines = await pendingOnAws('prod', undefined, 5, NOW);
    const invoked = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(invoked?.FunctionName).toBe('prod-sweep-fn');
    expect(JSON.parse(new TextDecoder().decode(invoked?.Payload as Uint8Array))).toEqual({
      list: 5,
    });
    expect(lines).toEqual([
      'prod-kafka-merge-pipeline join main: 2 pending, the oldest waiting 1h 2m',
      '  id 10: waiting 1h 2m, has inventory, missing customer (emitted with nulls)',
      '  id 7: waiting 12s, has customer, missing inventory',
    ]);
  });

  it('says so when the stack has no sweeper output, and names a failing sweeper', async () => {
    cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [] });
    await expect(pendingOnAws('dev', undefined, 5, NOW)).rejects.toThrow(
      'stack dev-kafka-merge-pipeline has no SweepFunctionName output: deploy this version, or pass --function',
    );
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: payload({ errorMessage: 'Redis unreachable' }) as never,
    });
    await expect(pendingOnAws('dev', 'my-sweeper', 5, NOW)).rejects.toThrow(
      /the sweeper my-sweeper failed \(Unhandled\): .*Redis unreachable/,
    );
    expect(cloudformation.commandCalls(DescribeStacksCommand)).toHaveLength(1);
  });
});
