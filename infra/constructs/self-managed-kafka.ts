import type { CustomResource } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  type KafkaCluster,
  type KafkaMappingSource,
  type TopicAdminProps,
  topicAdminFunction,
  topicsResource,
} from './kafka-cluster.ts';

export type SelfManagedKafkaProps = TopicAdminProps & {
  /** host:port list of the brokers, as the functions and LocalStack's Kafka poller reach them. */
  bootstrapServers: string;
};

/**
 * A Kafka cluster the stack does not create: the broker container of
 * docker-compose.localstack.yml, which LocalStack cannot provide as MSK Serverless. PLAINTEXT,
 * no SASL: the functions get KAFKA_AUTH=none and the merge function reads it through
 * self-managed Kafka event source mappings. The topics are created by the same custom resource
 * as on MSK.
 */
export class SelfManagedKafka extends Construct implements KafkaCluster {
  readonly bootstrapBrokers: string;
  readonly auth = 'none';
  readonly topicsResource: CustomResource;
  readonly topicAdmin: IFunction;
  /** The compose broker is not watched by the stack. */
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: SelfManagedKafkaProps) {
    super(scope, id);
    this.bootstrapBrokers = props.bootstrapServers;
    const admin = topicAdminFunction(this, props, {
      cluster: `the broker at ${props.bootstrapServers}`,
      environment: { KAFKA_BROKERS: this.bootstrapBrokers, KAFKA_AUTH: this.auth },
    });
    this.topicAdmin = admin.fn;
    this.topicsResource = topicsResource(this, admin.fn, props);
  }

  grantWrite(_fn: IFunction, _topics: string[], _options?: { failureDestination?: boolean }): void {
    // A PLAINTEXT broker without ACLs lets every client write: there is no IAM to grant.
  }

  grantConsume(
    _fn: IFunction,
    _topics: string[],
    _groups: string[],
    _options?: { eventSourceMapping?: boolean },
  ): void {
    // Likewise for reading and for the consumer groups.
  }

  mappingSource(): KafkaMappingSource {
    return { kafkaBootstrapServers: this.bootstrapBrokers.split(',') };
  }
}
