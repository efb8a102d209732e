import { type CustomResource, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { SecurityGroup } from 'aws-cdk-lib/aws-ec2';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { CfnCluster, CfnConfiguration, CfnServerlessCluster } from 'aws-cdk-lib/aws-msk';
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
  /**
   * MSK Serverless (the standard profile), or a provisioned cluster of one broker per private
   * subnet (the small profile: two kafka.t3.small brokers).
   */
  cluster?: { kind: 'serverless' } | { kind: 'provisioned'; brokerType: string; volumeGb: number };
};

/** A broker's data volume above this share of its size pages. */
const BROKER_DISK_ALARM_PERCENT = 80;

/**
 * Broker settings of the provisioned cluster: topics are created by the custom resource only,
 * replicated to both brokers, and a write is acknowledged once the in-sync replicas have it with
 * one replica allowed to be away, so the rolling restarts of MSK's patching (one broker at a
 * time) do not stop the fetches. docs/design.md argues min.insync.replicas=1.
 */
const PROVISIONED_SERVER_PROPERTIES = [
  'auto.create.topics.enable=false',
  'default.replication.factor=2',
  'min.insync.replicas=1',
  // The internal topics (consumer offsets, transaction state) default to Apache Kafka's 3
  // replicas, which two brokers cannot hold: MSK's default configuration lists only
  // default.replication.factor and min.insync.replicas for two-AZ clusters
  // (https://docs.aws.amazon.com/msk/latest/developerguide/msk-default-configuration.html).
  // Set here so the mappings' consumer groups can commit whatever MSK's own default is.
  'offsets.topic.replication.factor=2',
  'transaction.state.log.replication.factor=2',
  'transaction.state.log.min.isr=1',
  'unclean.leader.election.enable=false',
  'num.partitions=1',
].join('\n');

/**
 * MSK Serverless with IAM auth, its bootstrap brokers (read at deploy time: CloudFormation does
 * not expose them for serverless clusters), the topics, and helpers that grant scoped
 * kafka-cluster permissions. Topic replication must be -1 there: MSK Serverless fixes it at 3
 * and refuses other values.
 */
export class Streaming extends Construct implements KafkaCluster {
  readonly cluster: CfnServerlessCluster | CfnCluster;
  readonly clusterArn: string;
  readonly bootstrapBrokers: string;
  readonly auth = 'iam';
  readonly topicsResource: CustomResource;
  readonly topicAdmin: IFunction;
  /** The provisioned cluster's broker disk alarm (MSK Serverless manages its own storage). */
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: StreamingProps) {
    super(scope, id);
    const subnets = props.vpc.selectSubnets({ subnetType: SubnetType.PRIVATE_WITH_EGRESS });
    const cluster = props.cluster ?? { kind: 'serverless' };
    this.cluster =
      cluster.kind === 'serverless'
        ? new CfnServerlessCluster(this, 'Cluster', {
            clusterName: props.clusterName,
            clientAuthentication: { sasl: { iam: { enabled: true } } },
            vpcConfigs: [
              { subnetIds: subnets.subnetIds, securityGroups: [props.kafkaSg.securityGroupId] },
            ],
          })
        : this.#provisionedCluster(props, cluster, subnets.subnetIds);
    this.cluster.applyRemovalPolicy(props.removalPolicy);
    this.clusterArn = this.cluster.attrArn;
    if (cluster.kind === 'provisioned')
      this.alarms.push(this.#diskAlarm(props.clusterName, subnets.subnetIds.length));

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

  /**
   * A provisioned cluster, one broker per subnet, IAM auth only, TLS between clients and brokers
   * and among brokers, broker logs to CloudWatch.
   */
  #provisionedCluster(
    props: StreamingProps,
    cluster: { brokerType: string; volumeGb: number },
    subnetIds: string[],
  ): CfnCluster {
    const configuration = new CfnConfiguration(this, 'BrokerConfiguration', {
      name: `${props.clusterName}-brokers`,
      description: 'Pipeline brokers: topics by the custom resource only, replication 2',
      serverProperties: PROVISIONED_SERVER_PROPERTIES,
    });
    const brokerLogs = new LogGroup(this, 'BrokerLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    return new CfnCluster(this, 'ProvisionedCluster', {
      clusterName: props.clusterName,
      // The version MSK recommends (https://docs.aws.amazon.com/msk/latest/developerguide/supported-kafka-versions.html);
      // its metadata nodes are MSK's and cost nothing. An upgrade is a change of this line.
      kafkaVersion: '3.8.x',
      numberOfBrokerNodes: subnetIds.length,
      brokerNodeGroupInfo: {
        instanceType: cluster.brokerType,
        clientSubnets: subnetIds,
        securityGroups: [props.kafkaSg.securityGroupId],
        storageInfo: { ebsStorageInfo: { volumeSize: cluster.volumeGb } },
      },
      clientAuthentication: {
        sasl: { iam: { enabled: true } },
        unauthenticated: { enabled: false },
      },
      encryptionInfo: { encryptionInTransit: { clientBroker: 'TLS', inCluster: true } },
      // The latest revision: a change of the properties above reaches the brokers.
      configurationInfo: {
        arn: configuration.attrArn,
        revision: configuration.attrLatestRevisionRevision,
      },
      loggingInfo: {
        brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: brokerLogs.logGroupName } },
      },
    });
  }

  /**
   * A broker's data volume filling up: a full broker stops taking writes, and MSK's own storage
   * alerts reach only the console and the account's contact, not this stack's topic
   * (https://docs.aws.amazon.com/msk/latest/developerguide/cluster-alerts.html).
   * KafkaDataLogsDiskUsed is a DEFAULT-level metric per broker, dimensions "Cluster Name" and
   * "Broker ID" (https://docs.aws.amazon.com/msk/latest/developerguide/metrics-details.html).
   */
  #diskAlarm(clusterName: string, brokers: number): Alarm {
    const usingMetrics = Object.fromEntries(
      Array.from({ length: brokers }, (_, index) => [
        `b${index + 1}`,
        new Metric({
          namespace: 'AWS/Kafka',
          metricName: 'KafkaDataLogsDiskUsed',
          dimensionsMap: { 'Cluster Name': clusterName, 'Broker ID': String(index + 1) },
          statistic: 'Maximum',
          period: Duration.minutes(5),
        }),
      ]),
    );
    return new Alarm(this, 'BrokerDiskHigh', {
      alarmDescription: `A broker's data volume is over ${BROKER_DISK_ALARM_PERCENT}% full (KafkaDataLogsDiskUsed). A full broker refuses writes and the fetches fail: give the brokers more storage (volumeGb of the profile in infra/config.ts; MSK storage can grow, never shrink) or shorten the topics' retention (docs/deploy.md, "Alarms").`,
      metric: new MathExpression({
        expression: `MAX([${Object.keys(usingMetrics).join(', ')}])`,
        usingMetrics,
        period: Duration.minutes(5),
        label: 'fullest broker disk %',
      }),
      threshold: BROKER_DISK_ALARM_PERCENT,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
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

  /**
   * Idempotent produce to these topics. A Kafka on-failure destination also needs
   * kafka-cluster:DescribeCluster, as the example policy of "Using a Kafka topic as an
   * on-failure destination" grants (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html).
   */
  grantWrite(
    fn: IFunction,
    topics: string[],
    options: { failureDestination?: boolean } = {},
  ): void {
    this.grantConnect(fn, [
      'kafka-cluster:WriteDataIdempotently',
      ...(options.failureDestination ? ['kafka-cluster:DescribeCluster'] : []),
    ]);
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
