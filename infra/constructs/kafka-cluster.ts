import { CustomResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import type { TopicSpec } from '../../shared/adapters/kafka-topics.ts';
import type { AdminEnvironment } from '../../shared/config.ts';
import { PipelineFunction } from './pipeline-function.ts';

/** How an event source mapping names the cluster it reads: an MSK ARN or bootstrap servers. */
export type KafkaMappingSource = { eventSourceArn: string } | { kafkaBootstrapServers: string[] };

/**
 * What the stack needs from the Kafka cluster, whichever it is: MSK Serverless on AWS
 * (`Streaming`) or the compose broker on LocalStack (`SelfManagedKafka`).
 */
export interface KafkaCluster {
  /** host:port list the functions connect to (KAFKA_BROKERS). */
  readonly bootstrapBrokers: string;
  /** How the functions authenticate (KAFKA_AUTH). */
  readonly auth: 'iam' | 'none';
  /** The topics custom resource: functions that use the topics depend on it. */
  readonly topicsResource: CustomResource;
  /** The function that creates the topics (invoked by the custom resource provider). */
  readonly topicAdmin: IFunction;
  /**
   * Lets `fn` produce to `topics`; with `failureDestination`, also what Lambda needs to write a
   * mapping's failed records there with that role (kafka-cluster:DescribeCluster besides).
   */
  grantWrite(fn: IFunction, topics: string[], options?: { failureDestination?: boolean }): void;
  /**
   * Lets `fn`'s role read `topics` as `groups`: as a kafkajs client in the function, or, with
   * `eventSourceMapping`, through an event source mapping, which also describes the cluster.
   */
  grantConsume(
    fn: IFunction,
    topics: string[],
    groups: string[],
    options?: { eventSourceMapping?: boolean },
  ): void;
  /** The source of an event source mapping that reads this cluster. */
  mappingSource(): KafkaMappingSource;
  /** Alarms on the cluster itself (Observability routes them). */
  readonly alarms: Alarm[];
}

export type TopicAdminProps = {
  vpc: IVpc;
  adminSg: ISecurityGroup;
  logRetention: RetentionDays;
  /** Log group of the topic-creating function. */
  adminLogGroupName: string;
  /** Log group of the custom resource framework's own function (named, with retention). */
  providerLogGroupName: string;
  /** Topics created at deploy time (neither MSK nor the compose broker creates them). */
  topics: TopicSpec[];
  /** Replication the topics are created with: -1 (the broker's default) or a count. */
  replicationFactor: number;
};

/** The topic-creating function (`TopicAdmin` in `scope`), pointed at the cluster by `environment`. */
export function topicAdminFunction(
  scope: Construct,
  props: TopicAdminProps,
  { environment, cluster }: { environment: AdminEnvironment; cluster: string },
): PipelineFunction {
  return new PipelineFunction(scope, 'TopicAdmin', {
    entry: 'functions/topics/index.ts',
    description: `Creates the pipeline topics on ${cluster} at deploy time`,
    vpc: props.vpc,
    securityGroup: props.adminSg,
    logRetention: props.logRetention,
    logGroupName: props.adminLogGroupName,
    timeout: Duration.minutes(5),
    memorySize: 256,
    environment,
  });
}

/** The custom resource (`Topics` in `scope`) that has `admin` create the topics at deploy time. */
export function topicsResource(
  scope: Construct,
  admin: IFunction,
  props: TopicAdminProps,
): CustomResource {
  const provider = new Provider(scope, 'TopicProvider', {
    onEventHandler: admin,
    logGroup: new LogGroup(scope, 'TopicProviderLogs', {
      logGroupName: props.providerLogGroupName,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    }),
  });
  return new CustomResource(scope, 'Topics', {
    serviceToken: provider.serviceToken,
    resourceType: 'Custom::KafkaTopics',
    properties: {
      topics: props.topics,
      replicationFactor: props.replicationFactor,
    },
  });
}
