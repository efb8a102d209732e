import { runsPerHour } from './idle.ts';
import type { PriceBook } from './price-book.ts';
import {
  at,
  type CfnTemplate,
  numberAt,
  referencedId,
  resourcesOfType,
  stringAt,
} from './template.ts';

/** What moving records costs a month at one rate, line by line. */
export type VariableLine = { what: string; monthly: number };

type FunctionShape = {
  id: string;
  memoryMb: number;
  arch: string;
  logLevel: string | undefined;
  /** POWERTOOLS_SERVICE_NAME: the service its custom metrics are written under. */
  service: string | undefined;
};

/** The figures of the template the variable part reads. */
export type Shape = {
  merge: FunctionShape;
  fetch: FunctionShape | undefined;
  kafkaMappings: number;
  batchSize: number;
  /** Scheduled fetch runs an hour: each brings its records to the merge as one burst. */
  fetchRunsPerHour: number;
  provisionedPollers: { maximum: number } | undefined;
  kafka:
    | { kind: 'serverless' }
    | { kind: 'provisioned'; brokers: number; instanceType: string; volumeGb: number };
  replicationFactor: number;
  partitions: number;
  retentionHours: number;
  natGateway: boolean;
  cache: 'nodes' | 'serverless-valkey' | 'serverless-redis' | 'none';
  /** The node type of a node-based cache (the first one), else undefined. */
  cacheNodeType: string | undefined;
};

/** The workload figures the estimate assumes (data file defaults, overridable on the CLI). */
export type Workload = {
  mergeCpuSecondsPer10k: number;
  mergeIdleSecondsPer10k: number;
  fetchSecondsPer10k: number;
  recordBytes: number;
  logBytesPerRecordAtInfo: number;
  redisEcpusPerRecord: number;
};

export function defaultWorkload(prices: PriceBook): Workload {
  const keys = [
    'mergeCpuSecondsPer10k',
    'mergeIdleSecondsPer10k',
    'fetchSecondsPer10k',
    'recordBytes',
    'logBytesPerRecordAtInfo',
    'redisEcpusPerRecord',
  ] as const;
  return Object.fromEntries(keys.map((k) => [k, prices.workload(k)])) as Workload;
}

/** Reads the template's merge function (the Kafka mappings' target), topics, cluster and cache. */
export function readShape(template: CfnTemplate, prices: PriceBook): Shape {
  const kafkaMappings = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').filter(
    (m) =>
      m.props.Topics !== undefined ||
      m.props.AmazonManagedKafkaEventSourceConfig !== undefined ||
      m.props.SelfManagedEventSource !== undefined,
  );
  const first = kafkaMappings[0];
  const mergeId = referencedId(first?.props.FunctionName);
  if (!first || !mergeId) throw new Error('no Kafka event source mapping with a target function');
  const fetchId = resourcesOfType(template, 'AWS::Lambda::Function').find(
    (f) => stringAt(f.props, 'Environment', 'Variables', 'SOURCE') !== undefined,
  )?.id;
  const cluster = resourcesOfType(template, 'AWS::MSK::Cluster')[0];
  const topics = resourcesOfType(template, 'Custom::KafkaTopics').flatMap((r) =>
    Array.isArray(r.props.topics) ? r.props.topics : [],
  );
  const brokers = cluster ? numberAt(cluster.props, 1, 'NumberOfBrokerNodes') : 3;
  const rf = numberAt(
    resourcesOfType(template, 'Custom::KafkaTopics')[0]?.props,
    -1,
    'replicationFactor',
  );
  const retentionMs = topics
    .map((t) => numberAt(t, Number.NaN, 'retentionMs'))
    .find((v) => Number.isFinite(v));
  const pollerMaximum = kafkaMappings.reduce(
    (sum, m) => sum + numberAt(m.props, 0, 'ProvisionedPollerConfig', 'MaximumPollers'),
    0,
  );
  const serverlessCache = resourcesOfType(template, 'AWS::ElastiCache::ServerlessCache')[0];
  const hasNodes =
    resourcesOfType(template, 'AWS::ElastiCache::ReplicationGroup').length +
      resourcesOfType(template, 'AWS::ElastiCache::CacheCluster').length >
    0;
  return {
    merge: functionShape(template, mergeId),
    fetch: fetchId ? functionShape(template, fetchId) : undefined,
    kafkaMappings: kafkaMappings.length,
    batchSize: numberAt(first.props, 100, 'BatchSize'),
    fetchRunsPerHour: fetchRunsPerHour(template),
    provisionedPollers: pollerMaximum > 0 ? { maximum: pollerMaximum } : undefined,
    kafka: cluster
      ? {
          kind: 'provisioned',
          brokers,
          instanceType: stringAt(cluster.props, 'BrokerNodeGroupInfo', 'InstanceType') ?? '?',
          volumeGb: numberAt(
            cluster.props,
            0,
            'BrokerNodeGroupInfo',
            'StorageInfo',
            'EBSStorageInfo',
            'VolumeSize',
          ),
        }
      : { kind: 'serverless' },
    replicationFactor: rf > 0 ? rf : Math.min(3, brokers),
    partitions: topics.reduce((sum: number, t) => sum + numberAt(t, 0, 'numPartitions'), 0),
    retentionHours:
      retentionMs !== undefined
        ? retentionMs / 3_600_000
        : prices.workload('defaultRetentionHours'),
    natGateway: resourcesOfType(template, 'AWS::EC2::NatGateway').length > 0,
    cacheNodeType: [
      ...resourcesOfType(template, 'AWS::ElastiCache::ReplicationGroup'),
      ...resourcesOfType(template, 'AWS::ElastiCache::CacheCluster'),
    ]
      .map((r) => stringAt(r.props, 'CacheNodeType'))
      .find((t) => t !== undefined),
    cache: serverlessCache
      ? stringAt(serverlessCache.props, 'Engine')?.toLowerCase() === 'valkey'
        ? 'serverless-valkey'
        : 'serverless-redis'
      : hasNodes
        ? 'nodes'
        : 'none',
  };
}

/** Runs an hour of the schedules whose target is a fetch function (one with a SOURCE). */
function fetchRunsPerHour(template: CfnTemplate): number {
  const fetchIds = new Set(
    resourcesOfType(template, 'AWS::Lambda::Function')
      .filter((f) => stringAt(f.props, 'Environment', 'Variables', 'SOURCE') !== undefined)
      .map((f) => f.id),
  );
  return resourcesOfType(template, 'AWS::Scheduler::Schedule')
    .filter((s) => fetchIds.has(referencedId(at(s.props, 'Target', 'Arn')) ?? ''))
    .reduce((sum, s) => sum + runsPerHour(stringAt(s.props, 'ScheduleExpression')), 0);
}

function functionShape(template: CfnTemplate, id: string): FunctionShape {
  const props = template.Resources[id]?.Properties ?? {};
  const arch = Array.isArray(props.Architectures) ? String(props.Architectures[0]) : 'x86_64';
  return {
    id,
    memoryMb: numberAt(props, 128, 'MemorySize'),
    arch,
    logLevel: stringAt(props, 'Environment', 'Variables', 'LOG_LEVEL'),
    service: stringAt(props, 'Environment', 'Variables', 'POWERTOOLS_SERVICE_NAME'),
  };
}

/** Billed GB-seconds of `cpuSeconds` of single-threaded work plus `waitSeconds` on a function. */
export function gbSeconds(
  fn: FunctionShape,
  cpuSeconds: number,
  waitSeconds: number,
  prices: PriceBook,
): number {
  // Below 1,769 MB a function gets that share of one vCPU, so CPU-bound work stretches in time.
  const vcpuShare = Math.min(1, fn.memoryMb / prices.limit('lambda.memoryForOneVcpuMB'));
  return ((cpuSeconds / vcpuShare + waitSeconds) * fn.memoryMb) / 1024;
}

/**
 * The monthly cost of moving `recordsPerHour` records (each fetched once, written to Kafka once,
 * read by its merge mapping once, delivered once), above the idle cost. Analytics requests cost
 * nothing on AWS.
 */
export function estimateVariable(
  shape: Shape,
  work: Workload,
  recordsPerHour: number,
  prices: PriceBook,
): VariableLine[] {
  const perMonth = recordsPerHour * prices.monthHours;
  const gbPerMonth = (perMonth * work.recordBytes) / 1e9;
  const lines: VariableLine[] = [];
  const mergeGbs = gbSeconds(
    shape.merge,
    (perMonth * work.mergeCpuSecondsPer10k) / 1e4,
    (perMonth * work.mergeIdleSecondsPer10k) / 1e4,
    prices,
  );
  lines.push({
    what: `merge Lambda duration (${shape.merge.memoryMb} MB ${shape.merge.arch})`,
    monthly: mergeGbs * prices.price(`lambda.gbSecond.${shape.merge.arch}`),
  });
  // Records arrive in bursts, one a fetch run: at least one invocation a burst and mapping.
  const invocationsPerHour = Math.min(
    recordsPerHour,
    Math.max(recordsPerHour / shape.batchSize, shape.fetchRunsPerHour * shape.kafkaMappings),
  );
  // The merge writes its metrics only while it is invoked; at any of the rates priced here it
  // is invoked every hour, so each is a full metric-month (the idle part leaves them out).
  const mergeMetrics = shape.merge.service ? prices.metricsOfService(shape.merge.service) : 0;
  if (recordsPerHour > 0 && mergeMetrics > 0)
    lines.push({
      what: `${mergeMetrics} custom metrics of ${shape.merge.service} (written while records move)`,
      monthly: mergeMetrics * prices.price('cloudwatch.customMetricMonth'),
    });
  lines.push({
    what: 'merge Lambda requests',
    monthly:
      ((invocationsPerHour * prices.monthHours) / 1e6) * prices.price('lambda.requestPerMillion'),
  });
  if (shape.fetch) {
    const fetchGbs = gbSeconds(shape.fetch, (perMonth * work.fetchSecondsPer10k) / 1e4, 0, prices);
    lines.push({
      what: `fetch Lambda duration (${shape.fetch.memoryMb} MB)`,
      monthly: fetchGbs * prices.price(`lambda.gbSecond.${shape.fetch.arch}`),
    });
  }
  if (shape.merge.logLevel === undefined || ['DEBUG', 'INFO'].includes(shape.merge.logLevel)) {
    lines.push({
      what: 'CloudWatch Logs ingestion (per-record INFO lines)',
      monthly:
        ((perMonth * work.logBytesPerRecordAtInfo) / 1e9) *
        prices.price('cloudwatch.logsIngestPerGB'),
    });
  }
  if (shape.kafka.kind === 'serverless') {
    const storedGb = (recordsPerHour * shape.retentionHours * work.recordBytes) / 1e9;
    lines.push(
      {
        what: 'MSK Serverless data in',
        monthly: gbPerMonth * prices.price('msk.serverless.dataInPerGB'),
      },
      {
        what: 'MSK Serverless data out',
        monthly: gbPerMonth * prices.price('msk.serverless.dataOutPerGB'),
      },
      {
        what: `MSK Serverless storage (${Math.round(shape.retentionHours)} h retained)`,
        monthly: storedGb * prices.price('msk.serverless.storagePerGBMonth'),
      },
    );
  }
  if (shape.provisionedPollers) {
    const mbps = (recordsPerHour * work.recordBytes) / 3600 / 1e6;
    const extraEpus = Math.max(0, Math.ceil(mbps / prices.limit('lambda.kafkaEpuMBps')) - 1);
    lines.push({
      what: 'event poller units above the idle minimum',
      monthly: extraEpus * prices.price('lambda.eventPollerUnitHour.kafka') * prices.monthHours,
    });
  }
  if (shape.natGateway) {
    // Each record comes in from its source and goes out to Analytics through the NAT.
    lines.push({
      what: 'NAT gateway data processed',
      monthly: 2 * gbPerMonth * prices.price('vpc.natGatewayPerGB'),
    });
  }
  if (shape.cache.startsWith('serverless')) {
    const engine = shape.cache === 'serverless-valkey' ? 'valkey' : 'redis';
    lines.push({
      what: `ElastiCache Serverless ECPUs (${work.redisEcpusPerRecord} per record)`,
      monthly:
        ((perMonth * work.redisEcpusPerRecord) / 1e6) *
        prices.price(`elasticache.serverless.${engine}.ecpuPerMillion`),
    });
  }
  return lines.filter((l) => l.monthly > 0);
}
