import {
  LambdaClient,
  ListEventSourceMappingsCommand,
  type ListEventSourceMappingsCommandOutput,
} from '@aws-sdk/client-lambda';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AfterDeployError,
  afterDeploy,
  MOCK_API_TOKEN,
} from '../../local/localstack/after-deploy.ts';

const secrets = mockClient(SecretsManagerClient);
const lambda = mockClient(LambdaClient);
afterEach(() => {
  secrets.reset();
  lambda.reset();
});

const OUTPUTS = {
  crmTokenSecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:crm',
  inventoryTokenSecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:inventory',
  AnalyticsTokenSecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:analytics',
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
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    lambda: new LambdaClient({ region: 'us-east-1' }),
    say: (line) => said.push(line),
    timeoutMs,
    pollMs: 10,
  });
  return { said, done };
}

describe('after npm run deploy:local has deployed the stack', () => {
  it('puts a token in every API token secret, in the shape the functions read', async () => {
    secrets.on(PutSecretValueCommand).resolves({});
    lambda.on(ListEventSourceMappingsCommand).resolves(mappings('Enabled', 'Enabled'));
    await run().done;
    const filled = secrets.commandCalls(PutSecretValueCommand).map((call) => call.args[0].input);
    expect(filled.map((input) => input.SecretId).sort()).toEqual(
      [
        OUTPUTS.AnalyticsTokenSecretArn,
        OUTPUTS.crmTokenSecretArn,
        OUTPUTS.inventoryTokenSecretArn,
      ].sort(),
    );
    for (const input of filled)
      expect(JSON.parse(input.SecretString ?? '')).toEqual({ token: MOCK_API_TOKEN });
  });

  it('waits until every mapping of the merge function is enabled', async () => {
    secrets.on(PutSecretValueCommand).resolves({});
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
    secrets.on(PutSecretValueCommand).resolves({});
    lambda.on(ListEventSourceMappingsCommand).resolves(mappings('Enabled', 'Creating'));
    await expect(run(OUTPUTS, 50).done).rejects.toThrow(/topic-1: Creating/);
  });

  it('refuses outputs of another stack', async () => {
    await expect(run({ SomethingElse: 'x' }).done).rejects.toBeInstanceOf(AfterDeployError);
    expect(secrets.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });
});
