import { PriceBook, type PriceBookData, parsePriceBook } from '../../tools/cost/price-book.ts';
import type { CfnResource, CfnTemplate } from '../../tools/cost/template.ts';

/**
 * The context sets whose synthesized templates the cost tests price: every profile the stack
 * has. Add a set here when a profile or target is added.
 */
export const COST_CONTEXTS: ReadonlyArray<{ profile: string; context: Record<string, unknown> }> = [
  { profile: 'standard', context: {} },
  { profile: 'small', context: { 'pipeline:profile': 'small' } },
];

const sourced = (value: number) => ({ value, source: 'test' });
const price = (value: number) => ({
  unit: 'test',
  source: 'test',
  verification: { test: 'page' as const },
  test: value,
});

/** A price book of round test prices (region `test`), independent of tools/cost/prices.json. */
export function testPriceBook(overrides: Partial<PriceBookData> = {}): PriceBook {
  const data: PriceBookData = parsePriceBook({
    readOn: '2026-12-05',
    listPricesOf: '2026-12',
    monthHours: 100,
    regions: ['test'],
    prices: {
      'msk.serverless.clusterHour': price(1),
      'msk.serverless.partitionHour': price(0.01),
      'msk.serverless.dataInPerGB': price(0.1),
      'msk.serverless.dataOutPerGB': price(0.05),
      'msk.serverless.storagePerGBMonth': price(0.1),
      'msk.broker.kafka.t3.small': price(0.05),
      'msk.brokerStoragePerGBMonth': price(0.1),
      'lambda.requestPerMillion': price(0.2),
      'lambda.gbSecond.arm64': price(0.00001),
      'lambda.eventPollerUnitHour.kafka': price(0.2),
      'ec2.instance.t4g.nano': price(0.004),
      'ebs.gp3PerGBMonth': price(0.08),
      'vpc.natGatewayHour': price(0.05),
      'vpc.natGatewayPerGB': price(0.05),
      'vpc.publicIpv4Hour': price(0.005),
      'privatelink.interfaceEndpointAzHour': price(0.01),
      'elasticache.node.valkey.cache.t4g.micro': price(0.01),
      'elasticache.serverless.valkey.dataGBHour': price(0.1),
      'elasticache.serverless.valkey.ecpuPerMillion': price(0.002),
      'cloudwatch.alarmMetricMonth': price(0.1),
      'cloudwatch.dashboardMonth': price(3),
      'cloudwatch.customMetricMonth': price(0.3),
      'cloudwatch.logsIngestPerGB': price(0.5),
      'kms.keyMonth': price(1),
      'secretsmanager.secretMonth': price(0.4),
      'scheduler.invocationPerMillion': price(1),
    },
    resourceTypes: {
      'AWS::MSK::ServerlessCluster': { idle: 'priced', model: 'mskServerless' },
      'AWS::MSK::Cluster': { idle: 'priced', model: 'mskProvisioned' },
      'AWS::Lambda::EventSourceMapping': { idle: 'priced', model: 'eventSourceMapping' },
      'AWS::Lambda::Function': { idle: 'priced', model: 'functionMetrics' },
      'AWS::EC2::NatGateway': { idle: 'priced', model: 'natGateway' },
      'AWS::EC2::EIP': { idle: 'priced', model: 'publicIpv4' },
      'AWS::EC2::Instance': { idle: 'priced', model: 'ec2Instance' },
      'AWS::EC2::Subnet': { idle: 'free', why: 'test' },
      'AWS::EC2::VPCEndpoint': { idle: 'priced', model: 'vpcEndpoint' },
      'AWS::ElastiCache::CacheCluster': { idle: 'priced', model: 'cacheNodes' },
      'AWS::ElastiCache::ServerlessCache': { idle: 'priced', model: 'cacheServerless' },
      'AWS::CloudWatch::Alarm': { idle: 'priced', model: 'alarm' },
      'AWS::Scheduler::Schedule': { idle: 'priced', model: 'schedule' },
      'AWS::IAM::Role': { idle: 'free', why: 'test' },
      'Custom::KafkaTopics': { idle: 'free', why: 'test' },
    },
    functionMetrics: { source: 'test', byService: { 'Fetch-*': 6, Merge: 9 } },
    workload: {
      mergeCpuSecondsPer10k: sourced(0.4),
      mergeIdleSecondsPer10k: sourced(0),
      fetchSecondsPer10k: sourced(0.2),
      recordBytes: sourced(1000),
      logBytesPerRecordAtInfo: sourced(1000),
      redisEcpusPerRecord: sourced(4),
      idleRunSeconds: sourced(0.5),
      defaultRetentionHours: sourced(100),
      cacheBytesPerKey: sourced(512),
    },
    limits: {
      'lambda.kafkaPollersPerEpu': sourced(10),
      'lambda.kafkaEpuMBps': sourced(20),
      'lambda.kafkaPollerMBps': sourced(5),
      'lambda.memoryForOneVcpuMB': sourced(2048),
      'msk.t3.small.baselineNetworkMBps': sourced(10),
      'msk.t3.small.partitionsPerBroker': sourced(300),
      'msk.t3.iamConnectionsPerSecondPerBroker': sourced(4),
      kafkaConnectionsPerClient: sourced(2),
      'elasticache.maxmemoryGiB.cache.t4g.micro': sourced(1),
      'elasticache.reservedMemoryPercent.micro': sourced(50),
    },
    ...overrides,
  });
  return new PriceBook(data, 'test');
}

/** A template of the given resources (logical id to resource). */
export function aTemplate(resources: Record<string, CfnResource>): CfnTemplate {
  return { Resources: resources };
}

export const topics = (...partitions: number[]): CfnResource => ({
  Type: 'Custom::KafkaTopics',
  Properties: {
    topics: partitions.map((n, i) => ({ topic: `t${i}`, numPartitions: n })),
    replicationFactor: 2,
  },
});

export const mergeFunction = (memoryMb = 1024): CfnResource => ({
  Type: 'AWS::Lambda::Function',
  Properties: {
    MemorySize: memoryMb,
    Architectures: ['arm64'],
    Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'Merge', LOG_LEVEL: 'WARN' } },
  },
});

export const kafkaMapping = (pollers?: {
  min: number;
  max: number;
  group?: string;
}): CfnResource => ({
  Type: 'AWS::Lambda::EventSourceMapping',
  Properties: {
    FunctionName: { Ref: 'Merge' },
    Topics: ['t0'],
    BatchSize: 500,
    MaximumBatchingWindowInSeconds: 1,
    ...(pollers
      ? {
          ProvisionedPollerConfig: {
            MinimumPollers: pollers.min,
            MaximumPollers: pollers.max,
            ...(pollers.group ? { PollerGroupName: pollers.group } : {}),
          },
        }
      : {}),
  },
});
