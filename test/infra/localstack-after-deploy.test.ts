import {
  LambdaClient,
  ListEventSourceMappingsCommand,
  type ListEventSourceMappingsCommandOutput,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AfterDeployError, afterDeploy } from '../../local/localstack/after-deploy.ts';

const lambda = mockClient(LambdaClient);
afterEach(() => {
  lambda.reset();
});

const OUTPUTS = {
  MergeFunctionName: 'local-merge',
  DeadLetterQueueUrl: 'http://localhost:4566/000000000000/local-pipeline-dead-letters',
};

const mappings = (...states: string[]): ListEventSourceMappingsCommandOutput => ({
  $metadata: {},
  EventSourceMappings: states.map((State, index) => ({ State, Topics: [`topic-${index}`] })),
});

function run(outputs: Record<string, string> = OUTPUTS, timeoutMs = 60_000) {
  const said: string[] = [];
  const done = afterDeploy(outputs, {
    lambda: new LambdaClient({ region: 'us-east-1' }),
    say: (line) => said.push(line),
    timeoutMs,
    pollMs: 10,
  });
  return { said, done };
}

describe('after npm run deploy:local has deployed the stack', () => {
  it('waits until every mapping of the merge function is enabled', async () => {
    lambda
      .on(ListEventSourceMappingsCommand)
      .resolvesOnce(mappings())
      .resolvesOnce(mappings('Creating', 'Enabled'))
      .resolves(mappings('Enabled', 'Enabled'));
    const { said, done } = run();
    await done;
    expect(lambda.commandCalls(ListEventSourceMappingsCommand)).toHaveLength(3);
    expect(lambda.commandCalls(ListEventSourceMappingsCommand)[0]?.args[0].input).toEqual({
      FunctionName: 'local-merge',
    });
    expect(said.at(-1)).toBe('2 Kafka mappings of local-merge enabled');
  });

  it('gives up naming the mappings still not enabled', async () => {
    lambda.on(ListEventSourceMappingsCommand).resolves(mappings('Enabled', 'Creating'));
    await expect(run(OUTPUTS, 50).done).rejects.toThrow(/topic-1: Creating/);
  });

  it('refuses outputs of another stack', async () => {
    await expect(run({ SomethingElse: 'x' }).done).rejects.toBeInstanceOf(AfterDeployError);
    expect(lambda.commandCalls(ListEventSourceMappingsCommand)).toHaveLength(0);
  });
});
