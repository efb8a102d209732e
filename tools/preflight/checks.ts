import {
  type CloudFormationClient,
  DescribeStacksCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { GetAccountSettingsCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** The outcome of one check: `fail` stops a deploy, `warn` is worth reading first. */
export type CheckResult = { check: string; status: 'ok' | 'warn' | 'fail'; detail: string };

/** Lambda keeps this many executions unreserved in every account; a stack may not go below it. */
const LAMBDA_MIN_UNRESERVED = 10;

/**
 * Regions where the MSK developer guide ("What is MSK Serverless?") lists MSK Serverless, as read
 * in November 2026. A region outside it is a warning, not a failure: the list may have grown.
 */
const MSK_SERVERLESS_REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-2',
  'ca-central-1',
  'ap-south-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-northeast-1',
  'ap-northeast-2',
  'eu-central-1',
  'eu-north-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
];

/**
 * Whether the account can give the stack the concurrency it reserves (`reserved`, 0 by default)
 * and still keep Lambda's minimum unreserved; warns on the new-account quota of 10.
 */
export async function checkConcurrency(
  lambda: LambdaClient,
  reserved: number,
): Promise<CheckResult> {
  const check = 'Lambda concurrency';
  const settings = await lambda.send(new GetAccountSettingsCommand({}));
  const limit = settings.AccountLimit?.ConcurrentExecutions ?? 0;
  const unreserved = settings.AccountLimit?.UnreservedConcurrentExecutions ?? limit;
  if (unreserved - reserved < LAMBDA_MIN_UNRESERVED)
    return {
      check,
      status: 'fail',
      detail: `the stack reserves ${reserved} of ${unreserved} unreserved executions, leaving fewer than Lambda's minimum of ${LAMBDA_MIN_UNRESERVED}: drop pipeline:fetchReservedConcurrency or ask for a higher quota (Service Quotas, Lambda "Concurrent executions")`,
    };
  if (limit <= LAMBDA_MIN_UNRESERVED)
    return {
      check,
      status: 'warn',
      detail: `account quota is ${limit} concurrent executions (a new account's): the merge, fetch and replay functions share it; ask for an increase before production loads`,
    };
  return {
    check,
    status: 'ok',
    detail: `${unreserved} of ${limit} executions unreserved; the stack reserves ${reserved}`,
  };
}

async function describeStack(cfn: CloudFormationClient, name: string): Promise<Stack | undefined> {
  try {
    const answer = await cfn.send(new DescribeStacksCommand({ StackName: name }));
    return answer.Stacks?.[0];
  } catch (error) {
    if ((error as Error).message.includes('does not exist')) return undefined;
    throw error;
  }
}

/** Whether `cdk bootstrap` has run in this account and region (the CDKToolkit stack). */
export async function checkBootstrap(
  cfn: CloudFormationClient,
  region: string,
): Promise<CheckResult> {
  const check = 'CDK bootstrap';
  const toolkit = await describeStack(cfn, 'CDKToolkit');
  if (!toolkit)
    return {
      check,
      status: 'fail',
      detail: `no CDKToolkit stack in ${region}: run npx cdk bootstrap aws://<account>/${region}`,
    };
  const version = toolkit.Outputs?.find((output) => output.OutputKey === 'BootstrapVersion');
  return {
    check,
    status: 'ok',
    detail: `CDKToolkit is ${toolkit.StackStatus}, bootstrap version ${version?.OutputValue ?? 'unknown'}`,
  };
}

/** Whether MSK Serverless is documented in the region. */
export function checkMskServerlessRegion(region: string): CheckResult {
  const check = 'MSK Serverless region';
  return MSK_SERVERLESS_REGIONS.includes(region)
    ? { check, status: 'ok', detail: `${region} is a documented MSK Serverless region` }
    : {
        check,
        status: 'warn',
        detail: `${region} is not among the MSK Serverless regions documented in November 2026 (${MSK_SERVERLESS_REGIONS.join(', ')}); check the MSK developer guide before deploying`,
      };
}

/**
 * A credential secret the deployment reads, by the setting that names it, and the fields it must
 * hold; `arn` is undefined when nothing names it (synth then refuses the deployment).
 */
export type ExpectedSecret = { name: string; arn?: string; fields: string[] };

/**
 * Whether each credential secret the deployment reads is named, exists and holds its fields,
 * non-empty. The stack only reads these secrets, so this can be checked before the first deploy.
 */
export async function checkSecrets(
  secrets: SecretsManagerClient,
  expected: ExpectedSecret[],
): Promise<CheckResult[]> {
  if (expected.length === 0)
    return [
      {
        check: 'credential secrets',
        status: 'ok',
        detail: 'none needed: Analytics and every source take no credentials',
      },
    ];
  const results: CheckResult[] = [];
  for (const { name, arn, fields } of expected) {
    const check = `secret ${name}`;
    if (arn === undefined) {
      results.push({
        check,
        status: 'fail',
        detail: `not set: create a secret holding {${fields.map((f) => `"${f}": "…"`).join(', ')}} and name its ARN (docs/deploy.md, step 3); synth refuses the deployment without it`,
      });
      continue;
    }
    let text: string | undefined;
    try {
      text = (await secrets.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
    } catch (error) {
      results.push({
        check,
        status: 'fail',
        detail: `${arn} cannot be read: ${(error as Error).message}`,
      });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text ?? '');
    } catch {
      results.push({
        check,
        status: 'fail',
        detail: `is not JSON: it must hold {${fields.map((f) => `"${f}": "…"`).join(', ')}}`,
      });
      continue;
    }
    const held =
      typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
    const missing = fields.filter((field) => typeof held[field] !== 'string' || held[field] === '');
    results.push(
      missing.length > 0
        ? {
            check,
            status: 'fail',
            detail: `has no value for ${missing.map((f) => `"${f}"`).join(', ')}`,
          }
        : { check, status: 'ok', detail: `holds ${fields.join(', ')}` },
    );
  }
  return results;
}
