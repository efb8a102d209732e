import { describe, expect, it } from 'vitest';
import { cacheKeyCapacity } from '../../tools/cost/capacity.ts';
import {
  estimateIdle,
  runsPerMonth,
  UnclassifiedResourceTypeError,
} from '../../tools/cost/idle.ts';
import { PriceBookError } from '../../tools/cost/price-book.ts';
import { estimateProfile, renderMarkdown, summaryLine } from '../../tools/cost/report.ts';
import {
  defaultWorkload,
  estimateVariable,
  gbSeconds,
  readShape,
} from '../../tools/cost/variable.ts';
import {
  aTemplate,
  kafkaMapping,
  mergeFunction,
  testPriceBook,
  topics,
} from '../support/cost-fixtures.ts';

// Test prices: a 100-hour month, round prices (test/support/cost-fixtures.ts).
const prices = testPriceBook();
const monthly = (template: ReturnType<typeof aTemplate>, id: string) =>
  estimateIdle(template, prices)
    .lines.filter((l) => l.id === id)
    .reduce((sum, l) => sum + l.monthly, 0);

describe('idle cost of a hand-made template', () => {
  const serverless = aTemplate({
    Cluster: { Type: 'AWS::MSK::ServerlessCluster', Properties: {} },
    Topics: topics(6, 6, 1),
    Merge: mergeFunction(),
    MapA: kafkaMapping({ min: 1, max: 2, group: 'g' }),
    MapB: kafkaMapping({ min: 1, max: 2, group: 'g' }),
    Nat: { Type: 'AWS::EC2::NatGateway', Properties: {} },
    Eip: { Type: 'AWS::EC2::EIP', Properties: { Domain: 'vpc' } },
    Sqs: {
      Type: 'AWS::EC2::VPCEndpoint',
      Properties: {
        VpcEndpointType: 'Interface',
        SubnetIds: ['a', 'b'],
        ServiceName: 'com.amazonaws.x.sqs',
      },
    },
    S3: { Type: 'AWS::EC2::VPCEndpoint', Properties: { VpcEndpointType: 'Gateway' } },
    Role: { Type: 'AWS::IAM::Role', Properties: {} },
  });

  it('prices MSK Serverless by cluster-hours and the partitions of the topic resource', () => {
    // 100 h x $1 + 13 partitions x 100 h x $0.01
    expect(monthly(serverless, 'Cluster')).toBeCloseTo(113, 6);
  });

  it('prices a poller group once, at one EPU for up to 10 minimum pollers', () => {
    expect(monthly(serverless, 'MapA') + monthly(serverless, 'MapB')).toBeCloseTo(20, 6);
  });

  it('prices each mapping outside a group on its own, and nothing for on-demand mappings', () => {
    const template = aTemplate({
      Merge: mergeFunction(),
      A: kafkaMapping({ min: 1, max: 1 }),
      B: kafkaMapping({ min: 12, max: 20 }),
      C: kafkaMapping(),
      Topics: topics(1),
    });
    expect(monthly(template, 'A')).toBeCloseTo(20, 6);
    expect(monthly(template, 'B')).toBeCloseTo(40, 6); // 12 pollers need 2 EPUs
    expect(monthly(template, 'C')).toBe(0);
  });

  it('prices interface endpoints per AZ and gateway endpoints as free', () => {
    expect(monthly(serverless, 'Sqs')).toBeCloseTo(2, 6);
    expect(monthly(serverless, 'S3')).toBe(0);
  });

  it('adds the NAT gateway with its address, and no metrics of a function only Kafka invokes', () => {
    // The merge writes its 9 metrics only while records move: the variable part has them.
    expect(monthly(serverless, 'Merge')).toBe(0);
    expect(monthly(serverless, 'Nat') + monthly(serverless, 'Eip')).toBeCloseTo(5.5, 6);
    const total = 113 + 20 + 2 + 5.5;
    expect(estimateIdle(serverless, prices).total).toBeCloseTo(total, 6);
  });

  it('adds the custom metrics of a scheduled function by its service, even when Kafka invokes it too', () => {
    const template = aTemplate({
      Topics: topics(1),
      Merge: mergeFunction(),
      Map: kafkaMapping(),
      Timer: {
        Type: 'AWS::Scheduler::Schedule',
        Properties: {
          ScheduleExpression: 'rate(1 hour)',
          Target: { Arn: { 'Fn::GetAtt': ['Merge', 'Arn'] } },
        },
      },
    });
    expect(
      estimateIdle(template, prices).lines.find(
        (l) => l.id === 'Merge' && /custom metrics/.test(l.what),
      )?.monthly,
    ).toBeCloseTo(2.7, 6);
  });

  it('prices provisioned brokers with their storage, and a NAT instance with its root volume and public IP', () => {
    const template = aTemplate({
      Cluster: {
        Type: 'AWS::MSK::Cluster',
        Properties: {
          NumberOfBrokerNodes: 2,
          BrokerNodeGroupInfo: {
            InstanceType: 'kafka.t3.small',
            StorageInfo: { EBSStorageInfo: { VolumeSize: 10 } },
          },
        },
      },
      Public: { Type: 'AWS::EC2::Subnet', Properties: { MapPublicIpOnLaunch: true } },
      NatInstance: {
        Type: 'AWS::EC2::Instance',
        Properties: { InstanceType: 't4g.nano', SubnetId: { Ref: 'Public' } },
      },
      Cache: {
        Type: 'AWS::ElastiCache::CacheCluster',
        Properties: { Engine: 'valkey', CacheNodeType: 'cache.t4g.micro', NumCacheNodes: 1 },
      },
    });
    // 2 x 100 h x $0.05 + 2 x 10 GB x $0.1
    expect(monthly(template, 'Cluster')).toBeCloseTo(12, 6);
    // 100 h x $0.004 + 8 GB x $0.08 + 100 h x $0.005
    expect(monthly(template, 'NatInstance')).toBeCloseTo(0.4 + 0.64 + 0.5, 6);
    expect(monthly(template, 'Cache')).toBeCloseTo(1, 6);
  });

  it('does not price the instance address twice when an Elastic IP is attached to it', () => {
    const template = aTemplate({
      Public: { Type: 'AWS::EC2::Subnet', Properties: { MapPublicIpOnLaunch: true } },
      Nat: {
        Type: 'AWS::EC2::Instance',
        Properties: { InstanceType: 't4g.nano', SubnetId: { Ref: 'Public' } },
      },
      Eip: { Type: 'AWS::EC2::EIP', Properties: { InstanceId: { Ref: 'Nat' } } },
    });
    expect(monthly(template, 'Nat')).toBeCloseTo(0.4 + 0.64, 6);
    expect(monthly(template, 'Eip')).toBeCloseTo(0.5, 6);
  });

  it('meters ElastiCache Serverless Valkey at its 100 MB floor', () => {
    const template = aTemplate({
      Cache: { Type: 'AWS::ElastiCache::ServerlessCache', Properties: { Engine: 'valkey' } },
    });
    expect(monthly(template, 'Cache')).toBeCloseTo(0.1 * 100 * 0.1, 6);
  });

  it('counts the metrics of an alarm on a metric expression, and the runs of a schedule', () => {
    const template = aTemplate({
      Alarm: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: { Metrics: [{ Expression: 'a/b' }, { MetricStat: {} }, { MetricStat: {} }] },
      },
    });
    expect(monthly(template, 'Alarm')).toBeCloseTo(0.2, 6);
    expect(runsPerMonth('rate(1 minute)', 730)).toBe(43_800);
    expect(runsPerMonth('rate(5 minutes)', 730)).toBe(8_760);
    expect(() => runsPerMonth('cron(0 * * * ? *)', 730)).toThrow(/cannot count the runs/);
  });
});

describe('figures not verified on an AWS page', () => {
  /** The test prices, with the price `key` as one no AWS page showed. */
  const bookWithUnverified = (key: string) => {
    const book = testPriceBook();
    const entry = book.data.prices[key];
    if (!entry) throw new Error(`fixture lacks ${key}`);
    entry.verification.test = 'not-found';
    return book;
  };

  it('are marked in the report, and only those', () => {
    const book = bookWithUnverified('vpc.natGatewayHour');
    const template = aTemplate({
      Nat: { Type: 'AWS::EC2::NatGateway', Properties: {} },
      Eip: { Type: 'AWS::EC2::EIP', Properties: {} },
    });
    const lines = estimateIdle(template, book).lines;
    expect(lines.map((l) => [l.id, l.verified])).toEqual([
      ['Nat', false],
      ['Eip', true],
    ]);
  });

  it('are marked line by line when one resource has prices of different standing', () => {
    const book = bookWithUnverified('ec2.instance.t4g.nano');
    const template = aTemplate({
      Public: { Type: 'AWS::EC2::Subnet', Properties: { MapPublicIpOnLaunch: true } },
      Nat: {
        Type: 'AWS::EC2::Instance',
        Properties: { InstanceType: 't4g.nano', SubnetId: { Ref: 'Public' } },
      },
    });
    expect(estimateIdle(template, book).lines.map((l) => [l.what, l.verified])).toEqual([
      ['EC2 t4g.nano instance-hours', false],
      ['EC2 root volume 8 GB gp3', true],
      ['public IPv4 address of the instance', true],
    ]);
  });
});

describe('what the estimate refuses', () => {
  it('names every resource type the data file does not classify', () => {
    const template = aTemplate({
      Role: { Type: 'AWS::IAM::Role' },
      Db: { Type: 'AWS::RDS::DBInstance' },
      Bus: { Type: 'AWS::Events::EventBus' },
    });
    expect(() => estimateIdle(template, prices)).toThrow(UnclassifiedResourceTypeError);
    expect(() => estimateIdle(template, prices)).toThrow(
      /AWS::Events::EventBus, AWS::RDS::DBInstance/,
    );
  });

  it('fails on a priced resource whose price is missing instead of counting it as free', () => {
    const template = aTemplate({
      Cache: {
        Type: 'AWS::ElastiCache::CacheCluster',
        Properties: { Engine: 'valkey', CacheNodeType: 'cache.r7g.large', NumCacheNodes: 1 },
      },
    });
    expect(() => estimateIdle(template, prices)).toThrow(PriceBookError);
    expect(() => estimateIdle(template, prices)).toThrow(
      /elasticache\.node\.valkey\.cache\.r7g\.large/,
    );
  });

  it('fails on a function service whose custom metrics are not counted in the data file', () => {
    const template = aTemplate({
      Fn: {
        Type: 'AWS::Lambda::Function',
        Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'Audit' } } },
      },
    });
    expect(() => estimateIdle(template, prices)).toThrow(/function service "Audit"/);
  });

  it('fails on MSK Serverless without a topic resource to count partitions from', () => {
    const template = aTemplate({ Cluster: { Type: 'AWS::MSK::ServerlessCluster' } });
    expect(() => estimateIdle(template, prices)).toThrow(/partitions cannot be counted/);
  });
});

describe('variable cost', () => {
  const work = defaultWorkload(prices);

  it('bills CPU-bound work stretched by the vCPU share below one vCPU, and unstretched above it', () => {
    const half = {
      id: 'f',
      memoryMb: 1024,
      arch: 'arm64',
      logLevel: undefined,
      service: undefined,
    };
    const full = { ...half, memoryMb: 4096 };
    expect(gbSeconds(half, 1, 0, prices)).toBeCloseTo(2, 6); // 2 s at 1 GB
    expect(gbSeconds(full, 1, 0, prices)).toBeCloseTo(4, 6); // 1 s at 4 GB
    expect(gbSeconds(half, 0, 1, prices)).toBeCloseTo(1, 6); // waiting is not stretched
  });

  it("adds the merge's custom metrics once records move, and nothing at no records", () => {
    const template = aTemplate({ Topics: topics(1), Merge: mergeFunction(), Map: kafkaMapping() });
    const shape = readShape(template, prices);
    const metrics = (rate: number) =>
      estimateVariable(shape, work, rate, prices).find((l) =>
        /custom metrics of Merge/.test(l.what),
      )?.monthly;
    expect(metrics(10_000)).toBeCloseTo(2.7, 6); // 9 metrics x $0.30
    expect(metrics(0)).toBeUndefined();
  });

  it('prices MSK Serverless data in and out per record and grows linearly with the rate', () => {
    const template = aTemplate({
      Cluster: { Type: 'AWS::MSK::ServerlessCluster' },
      Topics: topics(6),
      Merge: mergeFunction(2048),
      Map: kafkaMapping(),
    });
    const shape = readShape(template, prices);
    const at = (rate: number, what: string) =>
      estimateVariable(shape, work, rate, prices).find((l) => l.what.startsWith(what))?.monthly ??
      0;
    // 1M records of 1,000 bytes an hour, 100 h: 100 GB in at $0.1, out at $0.05
    expect(at(1_000_000, 'MSK Serverless data in')).toBeCloseTo(10, 6);
    expect(at(1_000_000, 'MSK Serverless data out')).toBeCloseTo(5, 6);
    // 100M records x 0.4 s / 10k = 4,000 CPU s at one full vCPU and 2 GB: 8,000 GB-s
    expect(at(1_000_000, 'merge Lambda duration')).toBeCloseTo(8_000 * 0.00001, 6);
    expect(at(100_000_000, 'MSK Serverless data in')).toBeCloseTo(
      100 * at(1_000_000, 'MSK Serverless data in'),
      6,
    );
  });

  it('counts at least one merge invocation a fetch run and mapping, and one per full batch above that', () => {
    const template = aTemplate({
      Cluster: { Type: 'AWS::MSK::ServerlessCluster' },
      Topics: topics(6),
      Merge: mergeFunction(),
      Map: kafkaMapping(),
      Fetch: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          MemorySize: 512,
          Architectures: ['arm64'],
          Environment: { Variables: { SOURCE: 'crm' } },
        },
      },
      Every5: {
        Type: 'AWS::Scheduler::Schedule',
        Properties: {
          ScheduleExpression: 'rate(5 minutes)',
          Target: { Arn: { 'Fn::GetAtt': ['Fetch', 'Arn'] } },
        },
      },
    });
    const shape = readShape(template, prices);
    expect(shape.fetchRunsPerHour).toBe(12);
    const requests = (rate: number) =>
      estimateVariable(shape, work, rate, prices).find((l) => l.what === 'merge Lambda requests')
        ?.monthly ?? 0;
    // 12 bursts an hour x 100 h at $0.2 a million; 10 records an hour cannot make 12 invocations
    expect(requests(1_000)).toBeCloseTo((12 * 100 * 0.2) / 1e6, 12);
    expect(requests(10)).toBeCloseTo((10 * 100 * 0.2) / 1e6, 12);
    // 1M records in batches of 500: 2,000 invocations an hour
    expect(requests(1_000_000)).toBeCloseTo((2_000 * 100 * 0.2) / 1e6, 12);
  });

  it('counts the keys a cache node holds after the reserved memory AWS recommends for its size', () => {
    const withCache = (nodeType: string) =>
      readShape(
        aTemplate({
          Topics: topics(1),
          Merge: mergeFunction(),
          Map: kafkaMapping(),
          Cache: {
            Type: 'AWS::ElastiCache::CacheCluster',
            Properties: { Engine: 'valkey', CacheNodeType: nodeType, NumCacheNodes: 1 },
          },
        }),
        prices,
      );
    // 1 GiB, half of it reserved for a micro node, 512 bytes a key
    expect(cacheKeyCapacity(withCache('cache.t4g.micro'), prices)).toBe(1_048_576);
    expect(cacheKeyCapacity(withCache('cache.r7g.large'), prices)).toBeUndefined();
  });

  it('says where two t3.small brokers stop: network, storage, partitions and new connections', () => {
    const template = aTemplate({
      Cluster: {
        Type: 'AWS::MSK::Cluster',
        Properties: {
          NumberOfBrokerNodes: 2,
          BrokerNodeGroupInfo: {
            InstanceType: 'kafka.t3.small',
            StorageInfo: { EBSStorageInfo: { VolumeSize: 10 } },
          },
        },
      },
      Topics: topics(200, 200),
      Merge: mergeFunction(),
      Map: kafkaMapping(),
    });
    const e = estimateProfile('small', template, prices, work, [1_000, 1_000_000]);
    // storage: 10 GB / (1,000 B x 100 h x replication 2 / 2 brokers) = 100,000 records an hour
    const storage = e.capacities.find((c) => c.what.startsWith('broker storage'));
    expect(storage?.maxRecordsPerHour).toBeCloseTo(100_000, 6);
    // network: 10 MB/s a broker x 3,600 s / 1,000 B = 36M records an hour
    const network = e.capacities.find((c) => c.what.includes('baseline network'));
    expect(network?.maxRecordsPerHour).toBeCloseTo(36_000_000, 6);
    expect(e.rows[0]?.exceeded).toEqual([]);
    expect(e.rows[1]?.exceeded.map((c) => c.what)).toEqual([storage?.what]);
    expect(e.problems).toEqual(['400 partition replicas a broker, over the 300 recommended']);
    expect(e.newEnvironmentsPerSecond).toBeCloseTo(4, 6); // 4 a second x 2 brokers / 2 connections
    expect(summaryLine(e)).toMatch(
      /^small: idle \$\d+\.\d\d\/month \(test list prices of 2026-12\)$/,
    );
    expect(renderMarkdown([e])).toContain('| 1M | ');
  });
});
