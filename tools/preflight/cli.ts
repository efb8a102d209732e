import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DeployConfig } from '../../infra/config.ts';
import { stackName } from '../../infra/naming.ts';
import { deployConfigOf, deployContext, runPreflight, ZONES_CONTEXT_KEY } from './deployment.ts';

const USAGE = `npm run preflight -- [-c pipeline:key=value …] [--zones id,id]

Checks, with your AWS credentials and region (the usual AWS_PROFILE / AWS_REGION settings), what
can be checked before 'cdk deploy', for the stack that deploy would build: pass the same -c flags
(pipeline:profile, pipeline:config, …); context is read from cdk.json and -c, as cdk does, by the
stack's own reader (infra/config.ts). It checks the account's Lambda concurrency against what the
stack reserves, the CDK bootstrap stack, MSK Serverless in the region (the standard profile), and
that each credential secret the deployment reads (pipeline:analyticsTokenSecretArn, each source
with auth: pipeline:<source>SecretArn or secrets.<source>.arn of the pipeline:config file) is
named and holds its fields. Exit 1 if a check fails, 2 if the arguments or the context are bad.

It also checks the Availability Zones, by AZ ID (--zones with AZ IDs, or the stack's
-c ${ZONES_CONTEXT_KEY}=<zone names>), against what the profile puts there (the small profile's
kafka.t3.small brokers; MSK Serverless has no broker type) and the cache node type, or prints the
zones to pass; and warns when the account's unreserved Lambda concurrency is below what the
mappings (pollers x 5 invocations) and the schedules can use at once.`;

/** The deployment's config from argv, or the exit code and message when argv or context is bad. */
function readDeployment(): { config: DeployConfig; zones?: string[] } | { exit: number } {
  let values: { context: string[]; zones?: string | undefined; help: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        context: { type: 'string', short: 'c', multiple: true, default: [] },
        zones: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return { exit: 2 };
  }
  if (values.help) {
    console.log(USAGE);
    return { exit: 0 };
  }
  const cdkJson = JSON.parse(
    readFileSync(join(import.meta.dirname, '..', '..', 'cdk.json'), 'utf8'),
  ) as { context?: Record<string, unknown> };
  try {
    const config = deployConfigOf(deployContext(cdkJson.context ?? {}, values.context));
    const zones = values.zones
      ?.split(',')
      .map((zone) => zone.trim())
      .filter(Boolean);
    return { config, ...(zones && { zones }) };
  } catch (error) {
    console.error(`preflight: ${(error as Error).message}`);
    return { exit: 2 };
  }
}

async function main(): Promise<number> {
  const deployment = readDeployment();
  if ('exit' in deployment) return deployment.exit;
  const { config, zones } = deployment;
  const lambda = new LambdaClient({});
  const region = await lambda.config.region();
  const clients = {
    lambda,
    cfn: new CloudFormationClient({ region }),
    secrets: new SecretsManagerClient({ region }),
    ec2: new EC2Client({ region }),
  };
  const sources = config.sources.map((source) => source.name).join(', ');
  console.log(
    `Preflight for ${stackName(config.stage)} in ${region} (profile ${config.profile}; sources ${sources})`,
  );
  const results = await runPreflight(clients, region, config, zones);
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
