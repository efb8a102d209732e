import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { configFromContext, type DeployConfig } from '../../infra/config.ts';
import {
  ANALYTICS_SECRET_SHAPE,
  sourceSecretShape,
} from '../../infra/constructs/credential-secrets.ts';
import { SOURCES } from '../../shared/sources/registry.ts';
import {
  type CheckResult,
  checkBootstrap,
  checkConcurrency,
  checkMskServerlessRegion,
  checkSecrets,
  type ExpectedSecret,
} from './checks.ts';
import { checkConcurrencyDemand } from './concurrency.ts';
import { checkZones } from './zones.ts';

/**
 * The context key naming the stack's Availability Zones by AZ ID (comma-separated), read when
 * set; the stack's zone selection is infra's (docs/deploy.md).
 */
/** The stack's own setting (infra/config.ts): zone names, which preflight maps to AZ IDs. */
const ZONES_CONTEXT_KEY = 'pipeline:availabilityZones';
/** The broker types of the two sizes (small, standard), checked unless --broker-type is given. */
const BROKER_TYPES = ['kafka.t3.small', 'kafka.m7g.large'];

const USAGE = `npm run preflight -- [-c pipeline:key=value …] [--zones id,id] [--broker-type T …] [--serverless]

Checks, with your AWS credentials and region (the usual AWS_PROFILE / AWS_REGION settings), what
can be checked before 'cdk deploy': the account's Lambda concurrency against what the stack
reserves, the CDK bootstrap stack, MSK Serverless in the region, and that each credential secret
named in context (pipeline:analyticsTokenSecretArn, pipeline:<source>SecretArn) holds its fields. Context is read from cdk.json and -c, as cdk does. Exit 1 if a
check fails.

It also checks the Availability Zones, by AZ ID (--zones with AZ IDs, or the stack's -c ${ZONES_CONTEXT_KEY}=<zone names>), against
the MSK broker types (--broker-type, default ${BROKER_TYPES.join(' and ')}; --serverless for MSK
Serverless only) and the cache node type (pipeline:cacheNodeType), or prints the AZ IDs to pass;
and warns when the account's unreserved Lambda concurrency is below what the mappings (pollers x 5
invocations) and the schedules can use at once.`;

/** The secrets this deployment reads: Analytics' when configured, each source's with auth. */
function expectedSecrets(config: DeployConfig): ExpectedSecret[] {
  const expected: ExpectedSecret[] = [];
  if (config.analyticsTokenSecretArn)
    expected.push({
      name: 'pipeline:analyticsTokenSecretArn',
      arn: config.analyticsTokenSecretArn,
      fields: ANALYTICS_SECRET_SHAPE.fields,
    });
  for (const source of Object.values(SOURCES)) {
    const shape = sourceSecretShape(source);
    if (!shape) continue;
    expected.push({
      name: `pipeline:${source.name}SecretArn`,
      arn: config.sourceSecretArns[source.name] ?? '(not set: the deploy will refuse)',
      fields: shape.fields,
    });
  }
  return expected;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      context: { type: 'string', short: 'c', multiple: true, default: [] },
      zones: { type: 'string' },
      'broker-type': { type: 'string', multiple: true },
      serverless: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const cdkJson = JSON.parse(
    readFileSync(join(import.meta.dirname, '..', '..', 'cdk.json'), 'utf8'),
  );
  const context: Record<string, unknown> = { ...cdkJson.context };
  for (const pair of values.context) {
    const [key, ...rest] = pair.split('=');
    if (!key || rest.length === 0) {
      console.error(`-c takes key=value, got "${pair}"`);
      return 2;
    }
    context[key] = rest.join('=');
  }
  const config = configFromContext((key) => context[key]);
  const lambda = new LambdaClient({});
  const region = await lambda.config.region();
  const cfn = new CloudFormationClient({ region });
  const secrets = new SecretsManagerClient({ region });
  const ec2 = new EC2Client({ region });
  const chosen =
    values.zones
      ?.split(',')
      .map((zone) => zone.trim())
      .filter(Boolean) ?? config.availabilityZones;
  const brokerTypes = values.serverless ? [] : (values['broker-type'] ?? BROKER_TYPES);
  const sources = Object.keys(SOURCES).length;
  const stackName = `${config.stage}-kafka-merge-pipeline`;
  const reserved = (config.fetchReservedConcurrency ?? 0) * 2;
  console.log(`Preflight for ${stackName} in ${region}`);
  const results: CheckResult[] = [
    await checkConcurrency(lambda, reserved),
    await checkBootstrap(cfn, region),
    checkMskServerlessRegion(region),
    ...(await checkSecrets(secrets, expectedSecrets(config))),
    ...(await checkZones(
      ec2,
      region,
      { brokerTypes, cacheNodeType: config.cacheNodeType, zoneCount: 2 },
      chosen,
      ZONES_CONTEXT_KEY,
    )),
    await checkConcurrencyDemand(lambda, {
      mappings: sources,
      maxPollers: config.mergeMaxPollers,
      partitions: config.sourceTopicPartitions,
      // Each fetch (its run may outlast its rate once) and the sweeper.
      scheduled: sources + 1,
      replay: 2,
      manual: 1,
    }),
  ];
  for (const result of results)
    console.log(`  ${result.status.toUpperCase().padEnd(4)}  ${result.check}: ${result.detail}`);
  const failed = results.filter((result) => result.status === 'fail').length;
  console.log(failed === 0 ? 'Ready to deploy.' : `${failed} check(s) failed.`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`preflight could not finish: ${error.message}`);
    console.error('Are AWS credentials and a region set (aws configure, AWS_PROFILE, AWS_REGION)?');
    process.exit(1);
  },
);
