import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';

/** One function of ours as the template deploys it: its bundle folder and its environment. */
export type DeployedFunction = {
  logicalId: string;
  /** POWERTOOLS_SERVICE_NAME, which PipelineFunction sets to its construct id (Merge, Fetch-crm…). */
  name: string;
  assetDir: string;
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** Literal strings, or CloudFormation intrinsics ({Ref}, {Fn::GetAtt}, {Fn::Join}…). */
  environment: Record<string, unknown>;
};

type FunctionResource = {
  Metadata?: Record<string, unknown>;
  Properties: {
    Handler?: string;
    Runtime?: string;
    Timeout?: number;
    MemorySize?: number;
    Environment?: { Variables?: Record<string, unknown> };
  };
};

/**
 * The functions of ours in a synthesized template: those PipelineFunction built (they carry
 * POWERTOOLS_SERVICE_NAME). CDK's own framework functions are left out. `assetDir` holds the
 * bundle (index.mjs) when the app was synthesized with bundling.
 */
export function deployedFunctions(template: Template, outdir: string): DeployedFunction[] {
  const resources = template.findResources('AWS::Lambda::Function') as Record<
    string,
    FunctionResource
  >;
  return Object.entries(resources).flatMap(([logicalId, resource]) => {
    const assetPath = resource.Metadata?.['aws:asset:path'];
    if (typeof assetPath !== 'string') return [];
    const environment = resource.Properties.Environment?.Variables ?? {};
    if (typeof environment.POWERTOOLS_SERVICE_NAME !== 'string') return [];
    const assetDir = join(outdir, assetPath);
    return [
      {
        logicalId,
        name: String(environment.POWERTOOLS_SERVICE_NAME),
        assetDir,
        handler: resource.Properties.Handler ?? '',
        runtime: resource.Properties.Runtime ?? '',
        timeoutSeconds: resource.Properties.Timeout ?? 3,
        memoryMb: resource.Properties.MemorySize ?? 128,
        environment,
      },
    ];
  });
}

/**
 * The function's environment with every intrinsic replaced by `standIn(name, value)`. Literal
 * values are kept unless `overrides` names them. Throws naming a variable nothing stands in for.
 */
export function resolveEnvironment(
  fn: DeployedFunction,
  standIn: (name: string, value: unknown) => string | undefined,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [name, value] of Object.entries(fn.environment)) {
    if (name in overrides) continue;
    if (typeof value === 'string') {
      resolved[name] = value;
      continue;
    }
    const local = standIn(name, value);
    if (local === undefined)
      throw new Error(
        `${fn.name}: ${name} is ${JSON.stringify(value)} in the template and the test has no stand-in for it`,
      );
    resolved[name] = local;
  }
  return { ...resolved, ...overrides };
}

/** The environment Lambda itself gives every function (the part our code can see). */
export function lambdaRuntimeEnvironment(fn: DeployedFunction): Record<string, string> {
  return {
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_ACCESS_KEY_ID: 'AKIAARTIFACTTEST',
    AWS_SECRET_ACCESS_KEY: 'artifact-test-secret',
    AWS_SESSION_TOKEN: 'artifact-test-session',
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    PATH: '/usr/local/bin:/usr/bin:/bin',
  };
}
