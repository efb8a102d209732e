import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { FetchEnvironment, MergeEnvironment, ReplayEnvironment } from '../../shared/config.ts';

/** A setting that carries a secret's ARN, as the config module names it. */
type SecretSetting = Extract<
  keyof (FetchEnvironment & MergeEnvironment & ReplayEnvironment),
  `${string}_SECRET_ARN`
>;

const ROOT = join(import.meta.dirname, '..', '..');

/** Packages the bundles replace with a stub that throws (infra/bundling/codec-unavailable.ts). */
export const CODEC_ALIASES: Record<string, string> = Object.fromEntries(
  ['avro-js', 'protobufjs'].map((name) => [
    name,
    join(ROOT, 'infra', 'bundling', 'codec-unavailable.ts'),
  ]),
);

/**
 * esbuild settings of every function of ours. Everything is bundled, the AWS SDK included: the
 * runtime's SDK is whatever version Lambda ships that week, and some of our dependencies (the
 * MSK IAM signer) import SDK packages the runtime does not have at all. test/artifact loads
 * these bundles where nothing but Node's builtins resolves.
 */
const BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: true,
  forceDockerBundling: false,
  mainFields: ['module', 'main'],
  // kafkajs and ioredis are CommonJS and call require(); give the ESM bundle one.
  banner:
    "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  externalModules: [],
  esbuildArgs: Object.fromEntries(
    Object.entries(CODEC_ALIASES).map(([name, path]) => [`--alias:${name}`, path]),
  ),
};

export type PipelineFunctionProps = {
  /** Entry file, relative to the repository root (e.g. functions/fetch/index.ts). */
  entry: string;
  description: string;
  vpc: IVpc;
  securityGroup: ISecurityGroup;
  logRetention: RetentionDays;
  /** Name of the function's log group (infra/naming.ts), which `npm run logs -- --aws` reads. */
  logGroupName: string;
  environment: Record<string, string>;
  timeout?: Duration;
  memorySize?: number;
  /**
   * Caps concurrent executions. Undefined (the default) leaves the account pool shared: a new
   * account's quota of 10 cannot give any of it away (Lambda keeps 10 unreserved).
   */
  reservedConcurrency?: number;
  /** What happens to the log group when the stack is deleted. */
  logRemovalPolicy?: RemovalPolicy;
};

/** Where a function runs and logs: the part of its props every construct of ours passes through. */
export type FunctionPlacement = Pick<
  PipelineFunctionProps,
  'vpc' | 'securityGroup' | 'logRetention' | 'logGroupName'
>;

/**
 * The project's Lambda function: Node 22 on arm64, ESM bundle built by the local esbuild (no
 * Docker), in the VPC's private subnets, X-Ray tracing, its own log group with retention, and
 * its own role that may write to that log group only (no AWS managed policies).
 */
export class PipelineFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', {
      logGroupName: props.logGroupName,
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${id}: its own log group, its VPC network interfaces, and what the stack grants`,
    });
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    // Lambda's own network interfaces in the VPC; EC2 grants these on "*" only.
    this.role.addToPolicy(
      new PolicyStatement({
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DescribeSecurityGroups',
          'ec2:DescribeVpcs',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(ROOT, props.entry),
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      handler: 'handler',
      description: props.description,
      role: this.role,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.minutes(1),
      tracing: Tracing.ACTIVE,
      logGroup: this.logGroup,
      vpc: props.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [props.securityGroup],
      ...(props.reservedConcurrency !== undefined && {
        reservedConcurrentExecutions: props.reservedConcurrency,
      }),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: id,
        ...props.environment,
      },
      bundling: BUNDLING,
    });
    this.node.addValidation({ validate: () => environmentSizeProblems(this.fn) });
  }

  /**
   * Lets the function read a secret and tells it where: the env value and the grant together.
   * The grant is secretsmanager:GetSecretValue alone, the one call the functions make
   * (shared/adapters/secrets.ts); Secret.grantRead would add DescribeSecret, which nothing calls.
   * An ARN imported without its six-character suffix is matched with `-??????`.
   */
  bindSecret(setting: SecretSetting, secret: ISecret): this {
    this.fn.addEnvironment(setting, secret.secretArn);
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
      }),
    );
    return this;
  }
}

/**
 * Lambda refuses a function whose environment variables exceed 4 KB in all ("Function
 * configuration, deployment, and execution", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
 * Checked at synth, counting a deploy-time value (an ARN, a URL) as 256 bytes, so that a long
 * pipeline:config definition fails `cdk synth` with the function named, not the deploy.
 */
const ENVIRONMENT_LIMIT_BYTES = 4096;

function environmentSizeProblems(fn: NodejsFunction): string[] {
  const resolved = Stack.of(fn).resolve((fn.node.defaultChild as CfnFunction).environment) as
    | { variables?: Record<string, unknown> }
    | undefined;
  let bytes = 0;
  for (const [name, value] of Object.entries(resolved?.variables ?? {}))
    bytes += Buffer.byteLength(name) + (typeof value === 'string' ? Buffer.byteLength(value) : 256);
  return bytes <= ENVIRONMENT_LIMIT_BYTES
    ? []
    : [
        `${fn.node.path}: its environment variables take about ${bytes} bytes, over Lambda's 4 KB limit; shorten the source definitions of pipeline:config (each fetch function gets only its own)`,
      ];
}
