import { CfnOutput, type Stack } from 'aws-cdk-lib';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { ReplayFunction } from './constructs/dead-letters.ts';
import type { JoinSweeper } from './constructs/join-sweeper.ts';
import type { KafkaCluster } from './constructs/kafka-cluster.ts';
import type { MergeStage } from './constructs/merge-stage.ts';
import type { Network } from './constructs/network.ts';
import type { RedriveFunction } from './constructs/redrive-function.ts';
import type { SourceIngest } from './constructs/source-ingest.ts';

/** The stack outputs the tools (npm run replay, redrive, pending, logs) and docs/deploy.md read. */
export function stackOutputs(
  stack: Stack,
  parts: {
    alarmTopic: Topic;
    network: Network;
    streaming: KafkaCluster;
    deadLetters: Queue;
    parked: Queue;
    missedRuns: Queue;
    replay: ReplayFunction;
    merge: MergeStage;
    redrive: RedriveFunction;
    sweeper: JoinSweeper;
    ingests: SourceIngest[];
  },
): void {
  new CfnOutput(stack, 'AlarmTopicArn', {
    value: parts.alarmTopic.topicArn,
    description: 'Every alarm notifies this topic; subscribe to it (or set pipeline:alarmEmail)',
  });
  const [natAddress] = parts.network.natAddresses;
  if (natAddress)
    new CfnOutput(stack, 'NatPublicIp', {
      value: natAddress.ref,
      description: 'The address the sources and Analytics see this stage call from (Elastic IP)',
    });
  new CfnOutput(stack, 'BootstrapBrokers', { value: parts.streaming.bootstrapBrokers });
  new CfnOutput(stack, 'DeadLetterQueueUrl', { value: parts.deadLetters.queueUrl });
  new CfnOutput(stack, 'DeadLetterParkingQueueUrl', {
    value: parts.parked.queueUrl,
    description:
      'Letters the replay failed 5 times; npm run replay -- --aws --unpark moves them back',
  });
  new CfnOutput(stack, 'MissedFetchRunsQueueUrl', { value: parts.missedRuns.queueUrl });
  new CfnOutput(stack, 'ReplayFunctionName', { value: parts.replay.fn.functionName });
  new CfnOutput(stack, 'MergeFunctionName', { value: parts.merge.fn.functionName });
  new CfnOutput(stack, 'RedriveFunctionName', {
    value: parts.redrive.fn.functionName,
    description: 'Invoke by hand to re-drive failed merge batches (docs/deploy.md)',
  });
  new CfnOutput(stack, 'SweepFunctionName', {
    value: parts.sweeper.fn.functionName,
    description: `The sweeper of join ${parts.sweeper.join}; npm run pending -- --aws invokes it with {"list": N}`,
  });
  for (const { source, fn } of parts.ingests)
    new CfnOutput(stack, `Fetch${source.name}FunctionName`, { value: fn.functionName });
}
