import { type CfnElement, type Stack, Validations } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';

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
      'Only logs:CreateLogStream/PutLogEvents; each function writes to its own log group, created here with retention.',
  },
  {
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
    reason:
      'ENI management for functions in a VPC; EC2 does not support resource-level scoping for these actions.',
  },
  {
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole]',
    reason:
      'Added by the MSK event source mapping: the pollers need kafka:Describe*/GetBootstrapBrokers and VPC ENI actions. Data-plane access (kafka-cluster:*) is granted separately, scoped to the cluster, the two topics and the two consumer groups.',
  },
  {
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'xray:PutTraceSegments/PutTelemetryRecords for active tracing, which X-Ray only grants on "*".',
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

/**
 * Acknowledges the findings above, and the one invoke grant per invoked function that CDK writes
 * for the scheduler and the custom resource provider (lambda:InvokeFunction on "<function ARN>:*",
 * which covers its versions and aliases).
 */
export function acknowledgeNagFindings(stack: Stack, invokedFunctions: IFunction[]): void {
  for (const finding of ACKNOWLEDGED) Validations.of(stack).acknowledge(finding);
  for (const fn of invokedFunctions) {
    const logicalId = stack.getLogicalId(fn.node.defaultChild as CfnElement);
    Validations.of(stack).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
      reason: `lambda:InvokeFunction on ${fn.node.path} and its versions, granted by CDK to its invoker.`,
    });
  }
}
