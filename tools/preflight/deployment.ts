import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { configFromContext, type DeployConfig } from '../../infra/config.ts';
import {
  ANALYTICS_SECRET_SHAPE,
  sourceSecretShape,
} from '../../infra/constructs/credential-secrets.ts';
import { PipelineError } from '../../shared/errors.ts';
import {
  type CheckResult,
  checkBootstrap,
  checkConcurrency,
  checkMskServerlessRegion,
  checkSecrets,
  type ExpectedSecret,
} from './checks.ts';
import { checkConcurrencyDemand } from './concurrency.ts';
import { checkZones, type ZoneNeeds } from './zones.ts';

/** The stack's own setting (infra/config.ts): zone names, which preflight maps to AZ IDs. */
export const ZONES_CONTEXT_KEY = 'pipeline:availabilityZones';

/** A `-c` value that is not `key=value`. */
export class ContextArgumentError extends PipelineError {
  override readonly name = 'ContextArgumentError';
  constructor(readonly argument: string) {
    super(`-c takes key=value, got "${argument}"`);
  }
}

/**
 * The context the CDK app gets from `cdk deploy`: cdk.json's `context`, with each `-c key=value`
 * over it as a string (cdk splits at the first `=`). Throws ContextArgumentError on a bad pair.
 */
export function deployContext(
  cdkJsonContext: Record<string, unknown>,
  pairs: readonly string[],
): Record<string, unknown> {
  const context: Record<string, unknown> = { ...cdkJsonContext };
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new ContextArgumentError(pair);
    context[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return context;
}

/**
 * The DeployConfig the stack is built from, read as infra/app.ts reads it: every context key is
 * passed, so what synth refuses (a per-source key naming no source, a bad pipeline:config file)
 * is refused here too, with the same message.
 */
export function deployConfigOf(context: Record<string, unknown>): DeployConfig {
  return configFromContext((key) => context[key], Object.keys(context));
}

/**
 * The secrets this deployment reads: Analytics' when configured, and each of its sources that
 * declares auth (bundled or from pipeline:config), by the ARN the stack would import.
 */
export function expectedSecrets(config: DeployConfig): ExpectedSecret[] {
  const expected: ExpectedSecret[] = [];
  if (config.analyticsTokenSecretArn)
    expected.push({
      name: 'pipeline:analyticsTokenSecretArn',
      arn: config.analyticsTokenSecretArn,
      fields: ANALYTICS_SECRET_SHAPE.fields,
    });
  for (const source of config.sources) {
    const shape = sourceSecretShape(source);
    if (!shape) continue;
    const arn = config.sourceSecretArns[source.name];
    expected.push({
      name: `pipeline:${source.name}SecretArn`,
      ...(arn !== undefined && { arn }),
      fields: shape.fields,
    });
  }
  return expected;
}

/**
 * What the profile puts in the zones: MSK Serverless has no broker type (so no broker offering
 * or use1-az3 check); provisioned MSK has its brokers' type. Two zones, as the stack takes.
 */
export function zoneNeedsOf(config: DeployConfig): ZoneNeeds {
  const { kafka } = config.shape;
  return {
    brokerTypes: kafka.kind === 'provisioned' ? [kafka.brokerType] : [],
    cacheNodeType: config.cacheNodeType,
    zoneCount: 2,
  };
}

/** The AWS clients preflight asks, all in the deployment's region. */
export type PreflightClients = {
  lambda: LambdaClient;
  cfn: CloudFormationClient;
  secrets: SecretsManagerClient;
  ec2: EC2Client;
};

/**
 * Runs every check the deployment of `config` in `region` needs, in report order. `zones` (AZ
 * IDs) replaces the config's zone names when given. Throws what an AWS call throws, other than
 * the failures a check reports (a missing bootstrap stack, an unreadable secret).
 */
export async function runPreflight(
  clients: PreflightClients,
  region: string,
  config: DeployConfig,
  zones?: string[],
): Promise<CheckResult[]> {
  const sources = config.sources.length;
  // One fetch function per source, each reserving fetchReservedConcurrency.
  const reserved = (config.fetchReservedConcurrency ?? 0) * sources;
  return [
    await checkConcurrency(clients.lambda, reserved),
    await checkBootstrap(clients.cfn, region),
    ...(config.shape.kafka.kind === 'serverless' ? [checkMskServerlessRegion(region)] : []),
    ...(await checkSecrets(clients.secrets, expectedSecrets(config))),
    ...(await checkZones(
      clients.ec2,
      region,
      zoneNeedsOf(config),
      zones ?? config.availabilityZones,
      ZONES_CONTEXT_KEY,
    )),
    await checkConcurrencyDemand(clients.lambda, {
      mappings: sources,
      pollers:
        config.shape.mappingMode === 'on-demand'
          ? { mode: 'on-demand' }
          : { mode: 'provisioned', maxPollers: config.mergeMaxPollers },
      partitions: config.sourceTopicPartitions,
      // Each fetch (its run may outlast its rate once) and the sweeper.
      scheduled: sources + 1,
      replay: 2,
      manual: 1,
    }),
  ];
}
