import { type CustomResource, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { SecurityGroup } from 'aws-cdk-lib/aws-ec2';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { CfnServerlessCluster } from 'aws-cdk-lib/aws-msk';
import {
  AwsCustomResource,
  AwsCustomResourcePolicy,
  PhysicalResourceId,
} from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import {
  type KafkaCluster,
  type KafkaMappingSource,
  type TopicAdminProps,
  topicAdminFunction,
  topicsResource,
} from './kafka-cluster.ts';

export type StreamingProps = TopicAdminProps & {
  kafkaSg: SecurityGroup;
  clusterName: string;
  /** RETAIN outside dev: deleting the stack then keeps the cluster and its records. */
  removalPolicy: RemovalPolicy;
};

/**
 * MSK Serverless with IAM auth, its bootstrap brokers (read at deploy time: CloudFormation does
 * not expose them for serverless clusters), the topics, and helpers that grant scoped
 * kafka-cluster permissions. Topic replication must be -1 there: MSK Serverless fixes it at 3
 * and refuses other values.
 */
export class Streaming extends Construct implements KafkaCluster {
  readonly cluster: CfnServerlessCluster;
  readonly clusterArn: string;
  readonly bootstrapBrokers: string;
  readonly auth = 'iam';
  readonly topicsResource: CustomResource;
  readonly topicAdmin: IFunction;

  constructor(scope: Construct, id: string, props: StreamingProps) {
    super(scope, id);
    const subnets = props.vpc.selectSubnets({ subnetType: SubnetType.PRIVATE_WITH_EGRESS });
    this.cluster = new CfnServerlessCluster(this, 'Cluster', {
      clusterName: props.clusterName,
      clientAuthentication: { sasl: { iam: { enabled: true } } },
      vpcConfigs: [
        { subnetIds: subnets.subnetIds, securityGroups: [props.kafkaSg.securityGroupId] },
      ],
    });
    this.cluster.applyRemovalPolicy(props.removalPolicy);
    this.clusterArn = this.cluster.attrArn;

    const brokers = new AwsCustomResource(this, 'BootstrapBrokers', {
      onUpdate: {
        service: 'Kafka',
        action: 'getBootstrapBrokers',
        parameters: { ClusterArn: this.clusterArn },
        physicalResourceId: PhysicalResourceId.of(`${props.clusterName}-bootstrap`),
        outputPaths: ['BootstrapBrokerStringSaslIam'],
      },
      policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: [this.clusterArn] }),
      installLatestAwsSdk: false,
      logGroup: new LogGroup(this, 'BootstrapBrokersLogs', {
        retention: props.logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    this.bootstrapBrokers = brokers.getResponseField('BootstrapBrokerStringSaslIam');

    const admin = topicAdminFunction(this, props, {
      cluster: 'MSK',
      environment: { KAFKA_BROKERS: this.bootstrapBrokers, KAFKA_AUTH: this.auth },
    });
    this.topicAdmin = admin.fn;
    this.grantConnect(admin.fn);
    admin.fn.addToRolePolicy(
      new PolicyStatement({
        actions: [
          'kafka-cluster:CreateTopic',
          'kafka-cluster:DescribeTopic',
          'kafka-cluster:DescribeTopicDynamicConfiguration',
          // CreatePartitions, when a deploy declares more partitions than a topic has.
          'kafka-cluster:AlterTopic',
        ],
        resources: props.topics.map((spec) => this.topicArn(spec.topic)),
      }),
    );
    this.topicsResource = topicsResource(this, admin.fn, props);
  }

  mappingSource(): KafkaMappingSource {
    return { eventSourceArn: this.clusterArn };
  }

  /** ARN of a topic of this cluster (arn:…:topic/<cluster name>/<cluster uuid>/<topic>). */
  topicArn(topic: string): string {
    return this.#childArn('topic', topic);
  }

  /** ARN of a consumer group of this cluster. */
  groupArn(group: string): string {
    return this.#childArn('group', group);
  }

  #childArn(kind: 'topic' | 'group', name: string): string {
    const parts = Fn.split('/', this.clusterArn);
    return Stack.of(this).formatArn({
      service: 'kafka',
      resource: kind,
      resourceName: `${Fn.select(1, parts)}/${Fn.select(2, parts)}/${name}`,
    });
  }

  /** kafka-cluster:Connect (plus `extra` cluster actions) on this cluster only. */
  grantConnect(fn: IFunction, extra: string[] = []): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['kafka-cluster:Connect', ...extra],
        resources: [this.clusterArn],
      }),
    );
  }

  /** Idempotent produce to these topics. */
  grantWrite(fn: IFunction, topics: string[]): void {
    this.grantConnect(fn, ['kafka-cluster:WriteDataIdempotently']);
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
        resources: topics.map((topic) => this.topicArn(topic)),
      }),
    );
  }

  /** What an MSK event source mapping needs, with the function's role, to read a topic as a group. */
  grantConsume(
    fn: IFunction,
    topics: string[],
    groups: string[],
    options: { eventSourceMapping?: boolean } = {},
  ): void {
    // A mapping's pollers describe the cluster and its configuration; a kafkajs client in the
    // function (the re-drive) reads the brokers from its environment and needs neither.
    const mapping = options.eventSourceMapping === true;
    this.grantConnect(fn, mapping ? ['kafka-cluster:DescribeClusterDynamicConfiguration'] : []);
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        resources: topics.map((topic) => this.topicArn(topic)),
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        resources: groups.map((group) => this.groupArn(group)),
      }),
    );
    if (!mapping) return;
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
        resources: [this.clusterArn],
      }),
    );
  }
}
