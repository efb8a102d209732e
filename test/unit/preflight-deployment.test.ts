import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ContextArgumentError,
  deployConfigOf,
  deployContext,
  runPreflight,
} from '../../tools/preflight/deployment.ts';

/*
 * Preflight checks the stack `cdk deploy` would build from the same context: its profile, the
 * sources of its pipeline:config file, the secrets those name. Every AWS call is mocked.
 */

const lambdaMock = mockClient(LambdaClient);
const cfnMock = mockClient(CloudFormationClient);
const secretsMock = mockClient(SecretsManagerClient);
const ec2Mock = mockClient(EC2Client);
const clients = {
  lambda: new LambdaClient({ region: 'af-south-1' }),
  cfn: new CloudFormationClient({ region: 'af-south-1' }),
  secrets: new SecretsManagerClient({ region: 'af-south-1' }),
  ec2: new EC2Client({ region: 'af-south-1' }),
};
// af-south-1 is not among the documented MSK Serverless regions (tools/preflight/checks.ts).
const REGION = 'af-south-1';
const ZONES = ['afs1-az1', 'afs1-az2', 'afs1-az3'];

/** A bootstrapped account with the default quota, whose zones offer every instance type asked. */
beforeEach(() => {
  lambdaMock.on(GetAccountSettingsCommand).resolves({
    AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000 },
  });
  cfnMock.on(DescribeStacksCommand, { StackName: 'CDKToolkit' }).resolves({
    Stacks: [{ StackName: 'CDKToolkit', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() }],
  });
  ec2Mock.on(DescribeAvailabilityZonesCommand).resolves({
    AvailabilityZones: ZONES.map((id, index) => ({
      ZoneName: `af-south-1${'abc'[index]}`,
      ZoneId: id,
      State: 'available',
    })),
  });
  ec2Mock.on(DescribeInstanceTypeOfferingsCommand).callsFake((input) => ({
    InstanceTypeOfferings: (input.Filters?.[0]?.Values ?? []).flatMap((type: string) =>
      ZONES.map((zone) => ({
        InstanceType: type,
        LocationType: 'availability-zone-id',
        Location: zone,
      })),
    ),
  }));
});
afterEach(() => {
  lambdaMock.reset();
  cfnMock.reset();
  secretsMock.reset();
  ec2Mock.reset();
});

const folder = mkdtempSync(join(tmpdir(), 'preflight-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** A pipeline:config file in the test's folder. */
function aPipelineFile(name: string, content: unknown): string {
  const path = join(folder, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

const arnOf = (name: string) =>
  `arn:aws:secretsmanager:af-south-1:123456789012:secret:${name}-AbCdEf`;

/** A source whose API takes credentials, declared the way a pipeline file declares it. */
const aSource = (name: string, auth: Record<string, unknown>) => ({
  name,
  side: name,
  topic: `${name}_data`,
  path: `/${name}`,
  required: [{ path: 'amount', type: 'number' }],
  auth,
});

/** The report for the deployment `context` describes (context as cdk gives it to the app). */
const preflight = (context: Record<string, unknown>, zones?: string[]) =>
  runPreflight(clients, REGION, deployConfigOf(context), zones);

const secretIdsAsked = () =>
  secretsMock.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId);

describe('preflight: the sources and secrets of the deployment', () => {
  it('checks the secrets a pipeline:config file names, and a -c pipeline:<source>SecretArn', async () => {
    const file = aPipelineFile('authed.json', {
      sources: [aSource('pricing', { type: 'bearer' }), aSource('ledger', { type: 'basic' })],
      baseUrls: { pricing: 'https://pricing.example.com', ledger: 'https://ledger.example.com' },
      secrets: { pricing: { arn: arnOf('pricing') } },
    });
    secretsMock
      .on(GetSecretValueCommand, { SecretId: arnOf('pricing') })
      .resolves({ SecretString: '{"token":"t"}' })
      .on(GetSecretValueCommand, { SecretId: arnOf('ledger') })
      .resolves({ SecretString: '{"username":"svc","password":"p"}' });
    const results = await preflight({
      'pipeline:config': file,
      'pipeline:ledgerSecretArn': arnOf('ledger'),
    });
    expect(results.filter((r) => r.check.startsWith('secret '))).toEqual([
      { check: 'secret pipeline:pricingSecretArn', status: 'ok', detail: 'holds token' },
      {
        check: 'secret pipeline:ledgerSecretArn',
        status: 'ok',
        detail: 'holds username, password',
      },
    ]);
    expect(secretIdsAsked()).toEqual([arnOf('pricing'), arnOf('ledger')]);
  });

  it('fails a source with auth that no setting gives a secret, without asking AWS for it', async () => {
    const file = aPipelineFile('unnamed.json', {
      sources: [
        aSource('pricing', { type: 'oauth2', tokenUrl: 'https://auth.example.com' }),
        aSource('stock', { type: 'none' }),
      ],
      baseUrls: { pricing: 'https://pricing.example.com', stock: 'https://stock.example.com' },
    });
    const results = await preflight({ 'pipeline:config': file });
    const pricing = results.find((r) => r.check === 'secret pipeline:pricingSecretArn');
    expect(pricing?.status).toBe('fail');
    expect(pricing?.detail).toContain(
      'not set: create a secret holding {"clientId": "…", "clientSecret": "…"}',
    );
    expect(secretIdsAsked()).toEqual([]);
  });

  it('checks the Analytics token secret of -c pipeline:analyticsTokenSecretArn', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: '{}' });
    const results = await preflight({ 'pipeline:analyticsTokenSecretArn': arnOf('analytics') });
    expect(results.find((r) => r.check.startsWith('secret '))).toEqual({
      check: 'secret pipeline:analyticsTokenSecretArn',
      status: 'fail',
      detail: 'has no value for "token"',
    });
    expect(secretIdsAsked()).toEqual([arnOf('analytics')]);
  });

  it('counts the fetch functions and mappings of every source the file declares', async () => {
    const results = await preflight({
      'pipeline:config': 'examples/three-sources.json',
      'pipeline:fetchReservedConcurrency': '2',
    });
    expect(results.find((r) => r.check === 'Lambda concurrency')?.detail).toBe(
      '1000 of 1000 executions unreserved; the stack reserves 6',
    );
    expect(results.find((r) => r.check === 'Lambda concurrency at peak')?.detail).toContain(
      'merge 3 mappings x 2 pollers x 5 = 30, scheduled 4,',
    );
  });

  it('refuses what synth refuses: a per-source key naming no source of the deployment', () => {
    expect(() => deployConfigOf({ 'pipeline:pricingSecretArn': arnOf('pricing') })).toThrow(
      'context pipeline:pricingSecretArn: no source is named "pricing" (sources: crm, inventory)',
    );
  });
});

describe('preflight: the checks of the profile', () => {
  const brokerTypesAsked = () =>
    ec2Mock
      .commandCalls(DescribeInstanceTypeOfferingsCommand)
      .map((call) => call.args[0].input.Filters?.[0]?.Values);

  it('small: checks kafka.t3.small brokers and cache.t4g.micro in the zones, and no MSK Serverless', async () => {
    const results = await preflight({
      'pipeline:profile': 'small',
      'pipeline:availabilityZones': 'af-south-1a,af-south-1b',
    });
    expect(results.map((r) => r.check)).not.toContain('MSK Serverless region');
    expect(results.filter((r) => r.status !== 'ok')).toEqual([]);
    expect(brokerTypesAsked()).toEqual([['t3.small', 't4g.micro']]);
    expect(results.find((r) => r.check === 'zone afs1-az1 (af-south-1a)')?.detail).toBe(
      'can hold kafka.t3.small, cache.t4g.micro',
    );
  });

  it('small: warns on a zone where EC2 offers no t3.small, naming the broker type', async () => {
    ec2Mock.on(DescribeInstanceTypeOfferingsCommand).resolves({
      InstanceTypeOfferings: [
        ...ZONES.map((zone) => ({ InstanceType: 't4g.micro' as const, Location: zone })),
        { InstanceType: 't3.small', Location: 'afs1-az1' },
      ],
    });
    const results = await preflight({ 'pipeline:profile': 'small' }, ['afs1-az1', 'afs1-az2']);
    expect(results.find((r) => r.check.startsWith('zone afs1-az2'))).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('EC2 offers no t3.small there, which kafka.t3.small runs on'),
    });
  });

  it('standard: warns on MSK Serverless outside its documented regions and asks about no broker type', async () => {
    const results = await preflight({}, ['afs1-az1', 'afs1-az2']);
    expect(results.find((r) => r.check === 'MSK Serverless region')?.status).toBe('warn');
    expect(brokerTypesAsked()).toEqual([['t4g.small']]);
  });
});

describe('preflight: the context it reads', () => {
  it('puts each -c key=value over cdk.json, as cdk does, and splits at the first =', () => {
    expect(
      deployContext({ 'pipeline:stage': 'dev', 'pipeline:join': { missing: 'wait' } }, [
        'pipeline:stage=prod',
        'pipeline:analyticsUrl=https://a.example/x?k=v',
      ]),
    ).toEqual({
      'pipeline:stage': 'prod',
      'pipeline:join': { missing: 'wait' },
      'pipeline:analyticsUrl': 'https://a.example/x?k=v',
    });
    expect(() => deployContext({}, ['pipeline:stage'])).toThrow(ContextArgumentError);
  });
});
