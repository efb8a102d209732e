import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
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

const USAGE = `npm run preflight -- [-c pipeline:key=value …]

Checks, with your AWS credentials and region (the usual AWS_PROFILE / AWS_REGION settings), what
can be checked before 'cdk deploy': the account's Lambda concurrency against what the stack
reserves, the CDK bootstrap stack, MSK Serverless in the region, and that each credential secret
named in context (pipeline:analyticsTokenSecretArn, pipeline:<source>SecretArn) holds its fields. Context is read from cdk.json and -c, as cdk does. Exit 1 if a
check fails.`;

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
  const stackName = `${config.stage}-kafka-merge-pipeline`;
  const reserved = (config.fetchReservedConcurrency ?? 0) * 2;
  console.log(`Preflight for ${stackName} in ${region}`);
  const results: CheckResult[] = [
    await checkConcurrency(lambda, reserved),
    await checkBootstrap(cfn, region),
    checkMskServerlessRegion(region),
    ...(await checkSecrets(secrets, expectedSecrets(config))),
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
