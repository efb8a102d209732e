import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkBootstrap,
  checkConcurrency,
  checkMskServerlessRegion,
  checkSecrets,
} from '../../tools/preflight/checks.ts';

const lambdaMock = mockClient(LambdaClient);
const cfnMock = mockClient(CloudFormationClient);
const secretsMock = mockClient(SecretsManagerClient);
afterEach(() => {
  lambdaMock.reset();
  cfnMock.reset();
  secretsMock.reset();
});

const lambda = new LambdaClient({ region: 'eu-west-1' });
const cfn = new CloudFormationClient({ region: 'eu-west-1' });
const secrets = new SecretsManagerClient({ region: 'eu-west-1' });
const noStack = (name: string) =>
  Object.assign(new Error(`Stack with id ${name} does not exist`), { name: 'ValidationError' });

describe('preflight: Lambda concurrency', () => {
  it('fails when what the stack reserves leaves fewer than 10 executions unreserved', async () => {
    lambdaMock.on(GetAccountSettingsCommand).resolves({
      AccountLimit: { ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 },
    });
    const result = await checkConcurrency(lambda, 2);
    expect(result.status).toBe('fail');
    expect(result.detail).toContain('pipeline:fetchReservedConcurrency');
  });

  it("warns on a new account's quota of 10 when the stack reserves nothing", async () => {
    lambdaMock.on(GetAccountSettingsCommand).resolves({
      AccountLimit: { ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 },
    });
    expect(await checkConcurrency(lambda, 0)).toMatchObject({ status: 'warn' });
  });

  it('passes with the default quota of 1,000', async () => {
    lambdaMock.on(GetAccountSettingsCommand).resolves({
      AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 900 },
    });
    expect(await checkConcurrency(lambda, 2)).toMatchObject({
      status: 'ok',
      detail: '900 of 1000 executions unreserved; the stack reserves 2',
    });
  });
});

describe('preflight: CDK bootstrap', () => {
  it('fails with the bootstrap command when the CDKToolkit stack is missing', async () => {
    cfnMock.on(DescribeStacksCommand, { StackName: 'CDKToolkit' }).rejects(noStack('CDKToolkit'));
    const result = await checkBootstrap(cfn, 'eu-west-1');
    expect(result).toMatchObject({ status: 'fail' });
    expect(result.detail).toContain('npx cdk bootstrap aws://<account>/eu-west-1');
  });

  it('reports the bootstrap version when it is there', async () => {
    cfnMock.on(DescribeStacksCommand, { StackName: 'CDKToolkit' }).resolves({
      Stacks: [
        {
          StackName: 'CDKToolkit',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: [{ OutputKey: 'BootstrapVersion', OutputValue: '30' }],
        },
      ],
    });
    expect(await checkBootstrap(cfn, 'eu-west-1')).toMatchObject({
      status: 'ok',
      detail: 'CDKToolkit is UPDATE_COMPLETE, bootstrap version 30',
    });
  });

  it('rethrows other errors instead of calling them a missing bootstrap', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(new Error('AccessDenied'));
    await expect(checkBootstrap(cfn, 'eu-west-1')).rejects.toThrow('AccessDenied');
  });
});

describe('preflight: region', () => {
  it('accepts a documented MSK Serverless region and warns on another', () => {
    expect(checkMskServerlessRegion('eu-west-1').status).toBe('ok');
    expect(checkMskServerlessRegion('af-south-1').status).toBe('warn');
  });
});

describe('preflight: credential secrets', () => {
  const expected = [
    { name: 'pipeline:analyticsTokenSecretArn', arn: 'arn:analytics', fields: ['token'] },
    { name: 'pipeline:crmSecretArn', arn: 'arn:crm', fields: ['username', 'password'] },
    { name: 'pipeline:inventorySecretArn', arn: 'arn:inventory', fields: ['token'] },
  ];

  it('passes a secret holding its fields and names what is missing in the others', async () => {
    secretsMock
      .on(GetSecretValueCommand, { SecretId: 'arn:analytics' })
      .resolves({ SecretString: '{"token":"abc"}' })
      .on(GetSecretValueCommand, { SecretId: 'arn:crm' })
      .resolves({ SecretString: '{"username":"svc","password":""}' })
      .on(GetSecretValueCommand, { SecretId: 'arn:inventory' })
      .resolves({ SecretString: 'not json' });
    const results = await checkSecrets(secrets, expected);
    expect(results.map((result) => [result.check, result.status, result.detail])).toEqual([
      ['secret pipeline:analyticsTokenSecretArn', 'ok', 'holds token'],
      ['secret pipeline:crmSecretArn', 'fail', 'has no value for "password"'],
      ['secret pipeline:inventorySecretArn', 'fail', 'is not JSON: it must hold {"token": "…"}'],
    ]);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(3);
  });

  it('fails a secret that cannot be read, with the reason', async () => {
    secretsMock
      .on(GetSecretValueCommand)
      .rejects(new Error("Secrets Manager can't find the specified secret."));
    const [result] = await checkSecrets(secrets, expected.slice(0, 1));
    expect(result).toMatchObject({ status: 'fail' });
    expect(result?.detail).toContain("can't find the specified secret");
  });

  it('needs no secret when nothing takes credentials', async () => {
    const results = await checkSecrets(secrets, []);
    expect(results).toEqual([expect.objectContaining({ status: 'ok' })]);
    expect(secretsMock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });
});
