import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { type IMetric, MathExpression, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import type { IVpc, SecurityGroup } from 'aws-cdk-lib/aws-ec2';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { CfnReplicationGroup, CfnSubnetGroup } from 'aws-cdk-lib/aws-elasticache';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/** The Redis-compatible store of the join state and the idempotency records, as the functions see it. */
export interface JoinStateCache {
  /** redis:// or rediss:// URL, without credentials (REDIS_URL). */
  readonly url: string;
  /** Secret with {"password": …}, when the cache asks for AUTH (REDIS_AUTH_SECRET_ARN). */
  readonly authSecret?: ISecret;
  /** Share of its memory the fullest node uses, in percent (ElastiCache only). */
  readonly memoryUsedPercent?: IMetric;
}

/**
 * The Valkey container of docker-compose.localstack.yml: LocalStack's ElastiCache supports
 * neither TLS nor AUTH tokens, so the localstack target creates no cache and points the merge
 * function at the container, without either.
 */
export function composeCache(url: string): JoinStateCache {
  return { url };
}

export type CacheProps = {
  vpc: IVpc;
  securityGroup: SecurityGroup;
  /** 1 for a dev stage; 2 or more turns on automatic failover across AZs. */
  nodes: number;
  nodeType: string;
  /** RETAIN outside dev: deleting the stack keeps the join state and delivery records. */
  removalPolicy: RemovalPolicy;
};

/**
 * Valkey (Redis-compatible) for the join state and the idempotency records: TLS in transit,
 * encrypted at rest, AUTH token generated into Secrets Manager, on a non-default port.
 */
export class Cache extends Construct implements JoinStateCache {
  readonly authSecret: Secret;
  readonly group: CfnReplicationGroup;
  /** rediss://host:port of the primary endpoint (no credentials in it). */
  readonly url: string;
  readonly memoryUsedPercent: IMetric;

  constructor(scope: Construct, id: string, props: CacheProps) {
    super(scope, id);
    this.authSecret = new Secret(this, 'AuthToken', {
      description: 'AUTH token of the pipeline cache ({"password": …})',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: 'password',
        excludePunctuation: true,
        passwordLength: 48,
      },
    });
    const subnets = new CfnSubnetGroup(this, 'Subnets', {
      description: 'pipeline cache subnets',
      subnetIds: props.vpc.selectSubnets({ subnetType: SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
    });
    const failover = props.nodes > 1;
    this.group = new CfnReplicationGroup(this, 'Valkey', {
      replicationGroupDescription: 'pipeline join state and idempotency',
      engine: 'valkey',
      engineVersion: '8.0',
      cacheNodeType: props.nodeType,
      numCacheClusters: props.nodes,
      automaticFailoverEnabled: failover,
      multiAzEnabled: failover,
      port: 6380,
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      authToken: this.authSecret.secretValueFromJson('password').unsafeUnwrap(),
      cacheSubnetGroupName: subnets.ref,
      securityGroupIds: [props.securityGroup.securityGroupId],
    });
    this.group.applyRemovalPolicy(props.removalPolicy);
    this.authSecret.applyRemovalPolicy(props.removalPolicy);
    this.url = `rediss://${this.group.attrPrimaryEndPointAddress}:${this.group.attrPrimaryEndPointPort}`;
    this.memoryUsedPercent = memoryUsedPercent(this.group.ref, props.nodes);
  }
}

/**
 * DatabaseMemoryUsagePercentage (used_memory / maxmemory, per node, every minute) of the fullest
 * node. ElastiCache names the nodes of a replication group without cluster mode
 * `<group id>-001`, `-002`, …, and publishes the metric per node (CacheClusterId); which one is
 * the primary changes with a failover, so the alarm takes the largest of them all.
 */
function memoryUsedPercent(groupId: string, nodes: number): IMetric {
  const period = Duration.minutes(1);
  const usingMetrics: Record<string, Metric> = {};
  for (let node = 1; node <= nodes; node++) {
    usingMetrics[`node${node}`] = new Metric({
      namespace: 'AWS/ElastiCache',
      metricName: 'DatabaseMemoryUsagePercentage',
      dimensionsMap: { CacheClusterId: `${groupId}-${String(node).padStart(3, '0')}` },
      statistic: 'Maximum',
      period,
    });
  }
  return new MathExpression({
    expression: `MAX([${Object.keys(usingMetrics).join(', ')}])`,
    usingMetrics,
    period,
    label: 'cache memory used (%), fullest node',
  });
}
