import { CfnResource, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import {
  AmazonLinuxCpuType,
  CfnEIP,
  CfnInstance,
  FlowLogDestination,
  FlowLogTrafficType,
  type Instance,
  InstanceType,
  InterfaceVpcEndpointAwsService,
  MachineImage,
  NatInstanceProviderV2,
  NatProvider,
  NatTrafficDirection,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  UserData,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { AnyPrincipal, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export type NetworkProps = {
  /** Availability zones to spread over (no lookup: the AZs come from Fn::GetAZs at deploy). */
  maxAzs?: number;
  /**
   * Named availability zones instead of maxAzs, for a target whose CloudFormation has no
   * Fn::GetAZs (LocalStack documents it as unsupported).
   */
  availabilityZones?: string[];
  /** Log rejected traffic to CloudWatch (default true; LocalStack emulates no flow logs). */
  flowLogs?: boolean;
  /**
   * The way out to the internet: a NAT gateway (default), or a NAT instance of this type (the
   * small profile: a t4g.nano, a fraction of the price, one instance without failover).
   */
  natInstanceType?: string | undefined;
  /**
   * Interface endpoints for Secrets Manager and SQS (default true). Without them those calls,
   * and the on-demand mappings' calls to Lambda and STS, go through the NAT.
   */
  interfaceEndpoints?: boolean;
  logRetention: RetentionDays;
};

/**
 * The VPC: public subnets only for the NAT gateway, private subnets for everything else. One
 * security group per role; the stack opens only the ports each pair needs.
 */
export class Network extends Construct {
  readonly vpc: Vpc;
  /** Fetch functions: call the source APIs (via NAT) and MSK. */
  readonly fetchSg: SecurityGroup;
  /** Merge and redrive functions: MSK, the cache, Analytics (via NAT), SQS. */
  readonly mergeSg: SecurityGroup;
  /** Replay and sweeper: Redis, Analytics and AWS APIs, and no way to the brokers. */
  readonly deliverySg: SecurityGroup;
  /** The topic-creating custom resource: MSK only. */
  readonly adminSg: SecurityGroup;
  readonly kafkaSg: SecurityGroup;
  readonly cacheSg: SecurityGroup;
  /** The NAT instance, when the network has one instead of a NAT gateway. */
  readonly natInstance?: NatInstanceProviderV2;
  /** The NAT instance's status check alarm (none with a NAT gateway, which AWS runs). */
  readonly alarms: Alarm[] = [];
  /** The NAT instance's Elastic IP, the stage's one outbound address (none with a gateway). */
  readonly natAddresses: CfnEIP[] = [];

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    if (props.natInstanceType) this.natInstance = natInstance(props.natInstanceType);
    this.vpc = new Vpc(this, 'Vpc', {
      ...(props.availabilityZones
        ? { availabilityZones: props.availabilityZones }
        : { maxAzs: props.maxAzs ?? 2 }),
      natGateways: 1,
      ...(this.natInstance && { natGatewayProvider: this.natInstance }),
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
      ...((props.flowLogs ?? true) && {
        flowLogs: {
          rejected: {
            destination: FlowLogDestination.toCloudWatchLogs(
              new LogGroup(this, 'FlowLogs', {
                retention: props.logRetention,
                removalPolicy: RemovalPolicy.DESTROY,
              }),
            ),
            trafficType: FlowLogTrafficType.REJECT,
          },
        },
      }),
    });
    this.#retainRestrictDefaultSgLogs(props.logRetention);
    const group = (name: string, description: string, allowAllOutbound: boolean) =>
      new SecurityGroup(this, name, { vpc: this.vpc, description, allowAllOutbound });
    this.fetchSg = group('FetchSg', 'fetch functions', true);
    this.mergeSg = group('MergeSg', 'merge and redrive functions', true);
    this.deliverySg = group('DeliverySg', 'replay and sweeper functions (no Kafka)', true);
    this.adminSg = group('AdminSg', 'topic admin custom resource', true);
    this.kafkaSg = group('KafkaSg', 'MSK cluster', false);
    this.cacheSg = group('CacheSg', 'ElastiCache', false);

    const msk = Port.tcp(9098); // IAM auth listener
    for (const client of [this.fetchSg, this.mergeSg, this.adminSg]) {
      this.kafkaSg.addIngressRule(client, msk, `MSK IAM from ${client.node.id}`);
    }
    // The event source mapping's pollers use the cluster's own security group.
    this.kafkaSg.addIngressRule(this.kafkaSg, msk, 'MSK IAM from the event source mapping');
    this.kafkaSg.addEgressRule(this.kafkaSg, msk, 'event source mapping to MSK');
    this.cacheSg.addIngressRule(this.mergeSg, Port.tcp(6380), 'Valkey TLS from merge');
    this.cacheSg.addIngressRule(this.deliverySg, Port.tcp(6380), 'Valkey TLS from replay, sweep');
    this.cacheSg.addIngressRule(this.fetchSg, Port.tcp(6380), 'Valkey TLS from fetch (sync state)');

    if (this.natInstance) {
      this.#secureNatInstance(this.natInstance);
      this.alarms.push(...this.natInstance.gatewayInstances.map((nat) => natStatusAlarm(nat)));
      this.natAddresses.push(
        ...this.natInstance.gatewayInstances.map((nat) => this.#natAddress(nat)),
      );
    }
    if (props.interfaceEndpoints ?? true) this.#addInterfaceEndpoints();
    // On-demand pollers reach Lambda and STS through the NAT when no endpoint is there
    // (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-cluster-network.html).
    else
      this.kafkaSg.addEgressRule(
        Peer.anyIpv4(),
        Port.tcp(443),
        'event source mapping to Lambda and STS through the NAT',
      );
  }

  /** Private endpoints for what the functions call inside AWS, so it does not ride the NAT. */
  #addInterfaceEndpoints(): void {
    const group = (name: string, description: string, allowAllOutbound: boolean) =>
      new SecurityGroup(this, name, { vpc: this.vpc, description, allowAllOutbound });
    const endpointSg = group('EndpointSg', 'interface endpoints', false);
    for (const client of this.#functionGroups()) {
      endpointSg.addIngressRule(client, Port.tcp(443), `HTTPS from ${client.node.id}`);
    }
    // The event source mapping's ENIs carry the cluster's security group.
    endpointSg.addIngressRule(this.kafkaSg, Port.tcp(443), 'HTTPS from the event source mapping');
    this.kafkaSg.addEgressRule(endpointSg, Port.tcp(443), 'event source mapping to AWS endpoints');
    // Each endpoint allows only the calls the pipeline makes through it (the default policy
    // allows every action of the service).
    for (const [name, service, actions] of [
      [
        'SecretsManager',
        InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        ['secretsmanager:GetSecretValue'],
      ],
      [
        'Sqs',
        InterfaceVpcEndpointAwsService.SQS,
        [
          'sqs:SendMessage',
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
        ],
      ],
      // No STS endpoint: no function calls STS, and provisioned pollers do not need it
      // (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-cluster-network.html).
    ] as const) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, {
        service,
        securityGroups: [endpointSg],
        privateDnsEnabled: true,
        open: false,
      });
      endpoint.addToPolicy(
        new PolicyStatement({
          principals: [new AnyPrincipal()],
          actions: [...actions],
          resources: ['*'],
        }),
      );
    }
  }

  /**
   * The NAT instance forwards what our functions and the mappings' pollers send, and takes
   * nothing else; its root volume is encrypted like every other volume of the stack.
   */
  #secureNatInstance(nat: NatInstanceProviderV2): void {
    for (const client of [...this.#functionGroups(), this.kafkaSg])
      nat.connections.allowFrom(
        client,
        Port.allTraffic(),
        `to the internet from ${client.node.id}`,
      );
    for (const instance of this.vpc.node.findAll())
      if (instance instanceof CfnInstance)
        instance.blockDeviceMappings = [
          { deviceName: '/dev/xvda', ebs: { encrypted: true, volumeType: 'gp3' } },
        ];
  }

  /** The security groups of the functions (every one that calls out of the VPC). */
  #functionGroups(): SecurityGroup[] {
    return [this.fetchSg, this.mergeSg, this.deliverySg, this.adminSg];
  }

  /**
   * An Elastic IP on the NAT instance, so the address sources and Analytics see (and may
   * allowlist) stays the same through a stop and start or a replacement of the instance (a new
   * image): an update of the EIP's InstanceId re-associates the address
   * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ec2-eip.html).
   * Its public IPv4 price is the one the instance's auto-assigned address would cost.
   */
  #natAddress(nat: Instance): CfnEIP {
    const address = new CfnEIP(nat, 'Address', { domain: 'vpc', instanceId: nat.instanceId });
    // The same page: an EIP of a VPC of the template depends on its gateway attachment (the
    // public subnets' default routes depend on it), as CDK's own NAT gateway address does.
    address.node.addDependency(
      this.vpc.selectSubnets({ subnetType: SubnetType.PUBLIC }).internetConnectivityEstablished,
    );
    return address;
  }

  /**
   * The VPC's default-security-group restriction is a CDK framework function whose log group
   * Lambda would create on first use, without retention. Create it here, with retention, before
   * the function runs.
   */
  #retainRestrictDefaultSgLogs(retention: RetentionDays): void {
    const stack = Stack.of(this);
    const provider = stack.node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
    const handler = provider?.node.tryFindChild('Handler');
    const restriction = this.vpc.node.tryFindChild('RestrictDefaultSecurityGroupCustomResource');
    if (!(handler instanceof CfnResource) || !restriction) return;
    const logs = new LogGroup(this, 'RestrictDefaultSgLogs', {
      logGroupName: Fn.join('', ['/aws/lambda/', handler.ref]),
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    restriction.node.addDependency(logs);
  }
}

/**
 * A NAT instance (CDK's NatProvider.instanceV2) on Amazon Linux 2023 for Graviton, taking
 * outbound traffic only; its security group is opened to the VPC's own range below.
 */
function natInstance(instanceType: string): NatInstanceProviderV2 {
  return NatProvider.instanceV2({
    instanceType: new InstanceType(instanceType.replace(/^ec2\./, '')),
    machineImage: MachineImage.latestAmazonLinux2023({ cpuType: AmazonLinuxCpuType.ARM_64 }),
    defaultAllowedTraffic: NatTrafficDirection.OUTBOUND_ONLY,
    userData: natUserData(),
  });
}

/**
 * CDK's NAT instance user data with its one network-dependent step retried: the default runs
 * `yum install iptables-services` once at boot, and when the package mirror is not reachable yet
 * the install fails and the instance never forwards (https://github.com/aws/aws-cdk/issues/36717).
 * The rest is CDK's own sequence (NatInstanceProviderV2.DEFAULT_USER_DATA_COMMANDS).
 */
function natUserData(): UserData {
  const userData = UserData.forLinux();
  const [install, ...rest] = NatInstanceProviderV2.DEFAULT_USER_DATA_COMMANDS;
  userData.addCommands(
    `for attempt in 1 2 3 4 5 6 7 8 9 10; do ${install} && break; sleep $((attempt * 6)); done`,
    ...rest,
  );
  return userData;
}

/**
 * Pages when the NAT instance fails an EC2 status check: while it is impaired nothing in the
 * private subnets reaches the internet or, with no interface endpoints, AWS's APIs (secrets,
 * the on-demand pollers' Lambda calls). T4g instances recover from a failed system check by
 * themselves (simplified automatic recovery); an instance check needs a reboot.
 */
function natStatusAlarm(nat: Instance): Alarm {
  return new Alarm(nat, 'StatusCheckFailed', {
    alarmDescription:
      'The NAT instance fails its EC2 status checks: the functions and the mappings cannot reach the sources, Analytics or AWS APIs. Reboot it (aws ec2 reboot-instances); a plain deploy does not replace it (docs/deploy.md, "Which profile").',
    metric: new Metric({
      namespace: 'AWS/EC2',
      metricName: 'StatusCheckFailed',
      dimensionsMap: { InstanceId: nat.instanceId },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    }),
    threshold: 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 3,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}
