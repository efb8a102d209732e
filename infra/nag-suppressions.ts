import { type CfnElement, type Stack, Validations } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { DeployTarget } from './config.ts';

/**
 * Every cdk-nag AwsSolutions finding this stack accepts, each with the reason. Anything not
 * listed here fails `cdk synth`.
 */
const ACKNOWLEDGED: { id: string; reason: string }[] = [
  {
    id: 'AwsSolutions-L1',
    reason:
      'The project targets the nodejs22.x runtime on purpose (the local tooling and the bundle target match it); move to the next LTS in one place, PipelineFunction.',
  },
  {
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason:
      'Only the CDK framework functions (the topic provider, the bootstrap-broker lookup, the default security group restriction) use it; their log groups are created here with retention. Our own functions have their own roles, scoped to their log groups.',
  },
  {
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'xray:PutTraceSegments/PutTelemetryRecords for active tracing, and the network-interface actions Lambda needs for a function in a VPC; neither service supports resource-level scoping for them.',
  },
  {
    id: 'AwsSolutions-SMG4',
    reason:
      'The source and Analytics API tokens are issued by those providers, and the cache AUTH token rotation needs a coordinated ModifyReplicationGroup; rotation is documented in docs/deploy.md rather than automated.',
  },
  {
    id: 'AwsSolutions-SQS3',
    reason:
      'These queues are themselves the dead-letter destinations (payloads refused by Analytics; batches the event source mapping gave up on).',
  },
  {
    id: 'AwsSolutions-AEC4',
    reason:
      'Multi-AZ is a per-stage choice: context pipeline:cacheNodes >= 2 turns on failover; the dev default is one node for cost.',
  },
];

/** What the small profile's NAT instance (a t4g.nano in place of a NAT gateway) accepts. */
const ACKNOWLEDGED_FOR_NAT_INSTANCE: { id: string; reason: string }[] = [
  {
    id: 'AwsSolutions-EC28',
    reason:
      'Detailed monitoring would cost about $2 a month on a $3 instance; the 5-minute basic metrics and the instance status checks (EC2 recovers a t4g instance on a failed system check by default) are what the small profile watches (docs/deploy.md).',
  },
  {
    id: 'AwsSolutions-EC29',
    reason:
      'The NAT instance holds no state: the stack replaces it on the next deploy if it is terminated, and only outbound traffic waits meanwhile (docs/deploy.md, "Which profile").',
  },
];

/** What the localstack target alone accepts: what LocalStack does not emulate is left out. */
const ACKNOWLEDGED_ON_LOCALSTACK: { id: string; reason: string }[] = [
  {
    id: 'AwsSolutions-VPC7',
    reason:
      'LocalStack emulates no VPC flow logs (AWS::EC2::FlowLog is not among the resource types it documents); the aws target logs rejected traffic.',
  },
];

/**
 * Acknowledges the findings above (and, on the localstack target, its own), and the one invoke grant per invoked function that CDK writes
 * for the scheduler and the custom resource provider (lambda:InvokeFunction on "<function ARN>:*",
 * which covers its versions and aliases).
 */
export function acknowledgeNagFindings(
  stack: Stack,
  invokedFunctions: IFunction[],
  target: DeployTarget,
  natInstance = false,
): void {
  const findings = [
    ...ACKNOWLEDGED,
    ...(target === 'localstack' ? ACKNOWLEDGED_ON_LOCALSTACK : []),
    ...(natInstance ? ACKNOWLEDGED_FOR_NAT_INSTANCE : []),
  ];
  for (const finding of findings) Validations.of(stack).acknowledge(finding);
  for (const fn of invokedFunctions) {
    const logicalId = stack.getLogicalId(fn.node.defaultChild as CfnElement);
    Validations.of(stack).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
      reason: `lambda:InvokeFunction on ${fn.node.path} and its versions, granted by CDK to its invoker.`,
    });
  }
}
