import { Duration } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { MergeEnvironment } from '../../shared/config.ts';
import { TOPICS } from '../../shared/sources/registry.ts';
import { type DeliveryBindings, DeliveryFunction } from './delivery-function.ts';
import type { KafkaCluster } from './kafka-cluster.ts';
import type { FunctionPlacement } from './pipeline-function.ts';

/** The consumer group of the redrive function (functions/redrive/handler.ts, no topic prefix on AWS). */
export const REDRIVE_GROUP = 'redrive';

export type RedriveFunctionProps = FunctionPlacement & {
  /** The failure topics of the merge mappings, read as REDRIVE_GROUP. */
  failedTopics: string[];
  environment: MergeEnvironment;
  delivery: DeliveryBindings;
  streaming: KafkaCluster;
};

/**
 * The re-drive (built as `Redrive`), invoked by hand once Redis and Analytics are healthy: reads
 * failed_<topic> as its own consumer group and runs the records through the merge
 * (docs/deploy.md).
 */
export class RedriveFunction extends DeliveryFunction {
  constructor(scope: Construct, id: string, props: RedriveFunctionProps) {
    super(scope, id, {
      entry: 'functions/redrive/index.ts',
      description: 'Re-drives the batches the merge mappings gave up on (invoke it by hand)',
      vpc: props.vpc,
      securityGroup: props.securityGroup,
      logRetention: props.logRetention,
      logGroupName: props.logGroupName,
      timeout: Duration.minutes(15),
      memorySize: 1024,
      environment: props.environment,
      delivery: props.delivery,
    });
    props.streaming.grantWrite(this.fn, [TOPICS.quarantine]);
    props.streaming.grantConsume(this.fn, props.failedTopics, [REDRIVE_GROUP]);
    this.fn.node.addDependency(props.streaming.topicsResource);
  }
}
