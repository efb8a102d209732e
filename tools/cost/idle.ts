import { PipelineError } from '../../shared/errors.ts';
import type { PriceBook } from './price-book.ts';
import {
  at,
  type CfnTemplate,
  numberAt,
  referencedId,
  refersTo,
  resourcesOfType,
  stringAt,
  TemplateError,
} from './template.ts';

/** One thing that costs money while no record moves: a resource's monthly price. */
/**
 * `verified`: every price of the line was read on an AWS page or a dated copy of one (none is a
 * `not-found` figure).
 */
export type IdleLine = {
  id: string;
  type: string;
  what: string;
  monthly: number;
  verified: boolean;
};
export type IdleEstimate = { lines: IdleLine[]; total: number };

/** The template has a resource type the data file neither prices nor calls free while idle. */
export class UnclassifiedResourceTypeError extends PipelineError {
  override readonly name = 'UnclassifiedResourceTypeError';
  constructor(readonly types: string[]) {
    super(
      `resource types not classified in tools/cost/prices.json (resourceTypes): ${types.join(', ')}. ` +
        'Add each as "priced" with a model, or "free" with why it costs nothing idle.',
    );
  }
}

type Resource = { id: string; props: Record<string, unknown> };
/** A model's line; `verified` is given when the model traced the line's own prices. */
type ModelLine = Omit<IdleLine, 'id' | 'type' | 'verified'> & { verified?: boolean };
type Model = (r: Resource, t: CfnTemplate, p: PriceBook) => ModelLine[];

/**
 * A line whose verification is that of the prices `monthly` reads, not of all the resource's:
 * for models that price one resource with prices of different standing.
 */
function tracedLine(p: PriceBook, what: string, monthly: () => number): ModelLine {
  const { value, verified } = p.traced(monthly);
  return { what, monthly: value, verified };
}

/** The resource types of `template` the price book does not classify, sorted. */
export function unclassifiedTypes(template: CfnTemplate, prices: PriceBook): string[] {
  const types = new Set(Object.values(template.Resources).map((r) => r.Type));
  return [...types].filter((t) => !prices.classify(t)).sort();
}

/**
 * The monthly price (the data file's month of hours) of everything in `template` that costs
 * money while idle. Throws UnclassifiedResourceTypeError when a type is not in the data file,
 * PriceBookError when a price is missing and TemplateError when the template lacks a figure.
 */
export function estimateIdle(template: CfnTemplate, prices: PriceBook): IdleEstimate {
  const unknown = unclassifiedTypes(template, prices);
  if (unknown.length > 0) throw new UnclassifiedResourceTypeError(unknown);
  const lines: IdleLine[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const cls = prices.classify(resource.Type);
    if (cls?.idle !== 'priced') continue;
    const model = MODELS[cls.model];
    if (!model) throw new TemplateError(`prices.json names an unknown model "${cls.model}"`);
    const props = resource.Properties ?? {};
    const { value, verified } = prices.traced(() => model({ id, props }, template, prices));
    for (const line of value) {
      if (line.monthly > 0)
        lines.push({ id, type: resource.Type, ...line, verified: line.verified ?? verified });
    }
  }
  return { lines, total: lines.reduce((sum, l) => sum + l.monthly, 0) };
}

/** Partitions of every topic the template's topic custom resources create. */
export function topicPartitions(template: CfnTemplate): number {
  const topics = resourcesOfType(template, 'Custom::KafkaTopics');
  if (topics.length === 0) {
    throw new TemplateError('no Custom::KafkaTopics resource: the partitions cannot be counted');
  }
  return topics
    .flatMap((r) => (Array.isArray(r.props.topics) ? r.props.topics : []))
    .reduce((sum: number, topic) => sum + numberAt(topic, 0, 'numPartitions'), 0);
}

const hourly = (p: PriceBook, key: string, count = 1): number =>
  count * p.price(key) * p.monthHours;

const MODELS: Record<string, Model> = {
  mskServerless: (_r, t, p) => {
    const partitions = topicPartitions(t);
    return [
      tracedLine(p, 'MSK Serverless cluster-hours', () => hourly(p, 'msk.serverless.clusterHour')),
      tracedLine(p, `MSK Serverless partition-hours (${partitions} partitions)`, () =>
        hourly(p, 'msk.serverless.partitionHour', partitions),
      ),
    ];
  },
  mskProvisioned: (r, _t, p) => {
    const brokers = numberAt(r.props, 0, 'NumberOfBrokerNodes');
    const type = stringAt(r.props, 'BrokerNodeGroupInfo', 'InstanceType');
    if (!type || brokers < 1) throw new TemplateError(`${r.id}: no broker type or count`);
    const gb = numberAt(
      r.props,
      0,
      'BrokerNodeGroupInfo',
      'StorageInfo',
      'EBSStorageInfo',
      'VolumeSize',
    );
    return [
      tracedLine(p, `MSK ${brokers} x ${type} brokers`, () =>
        hourly(p, `msk.broker.${type}`, brokers),
      ),
      tracedLine(
        p,
        `MSK broker storage ${brokers} x ${gb} GB`,
        () => brokers * gb * p.price('msk.brokerStoragePerGBMonth'),
      ),
    ];
  },
  eventSourceMapping: (r, t, p) => {
    const config = r.props.ProvisionedPollerConfig;
    if (!config) return [];
    const group = stringAt(config, 'PollerGroupName');
    // Mappings of one poller group share EPUs: the group is priced once, on its first mapping.
    const members = resourcesOfType(t, 'AWS::Lambda::EventSourceMapping').filter(
      (m) =>
        group !== undefined &&
        stringAt(m.props, 'ProvisionedPollerConfig', 'PollerGroupName') === group,
    );
    if (group !== undefined && members[0]?.id !== r.id) return [];
    const pollers = (group ? members : [r]).reduce(
      (sum, m) => sum + numberAt(m.props, 1, 'ProvisionedPollerConfig', 'MinimumPollers'),
      0,
    );
    const epus = Math.max(1, Math.ceil(pollers / p.limit('lambda.kafkaPollersPerEpu')));
    const label = group ? `poller group ${group}` : 'mapping';
    return [
      {
        what: `Kafka provisioned pollers, ${label}: ${pollers} minimum pollers = ${epus} EPU`,
        monthly: hourly(p, 'lambda.eventPollerUnitHour.kafka', epus),
      },
    ];
  },
  natGateway: (_r, _t, p) => [
    { what: 'NAT gateway-hours', monthly: hourly(p, 'vpc.natGatewayHour') },
  ],
  publicIpv4: (_r, _t, p) => [
    { what: 'public IPv4 address (Elastic IP)', monthly: hourly(p, 'vpc.publicIpv4Hour') },
  ],
  ec2Instance: (r, t, p) => {
    const type = stringAt(r.props, 'InstanceType');
    if (!type) throw new TemplateError(`${r.id}: no InstanceType`);
    const lines = [
      tracedLine(p, `EC2 ${type} instance-hours`, () => hourly(p, `ec2.instance.${type}`)),
    ];
    const rootGb = rootVolumeGb(r.props);
    lines.push(
      tracedLine(
        p,
        `EC2 root volume ${rootGb} GB gp3`,
        () => rootGb * p.price('ebs.gp3PerGBMonth'),
      ),
    );
    if (hasAutoPublicIp(r, t)) {
      lines.push(
        tracedLine(p, 'public IPv4 address of the instance', () => hourly(p, 'vpc.publicIpv4Hour')),
      );
    }
    return lines;
  },
  vpcEndpoint: (r, _t, p) => {
    if (stringAt(r.props, 'VpcEndpointType') !== 'Interface') return [];
    const azs = Array.isArray(r.props.SubnetIds) ? r.props.SubnetIds.length : 1;
    return [
      {
        what: `interface endpoint ${endpointService(r.props)} in ${azs} AZs`,
        monthly: hourly(p, 'privatelink.interfaceEndpointAzHour', azs),
      },
    ];
  },
  cacheNodes: (r, _t, p) => {
    const nodeType = stringAt(r.props, 'CacheNodeType');
    if (!nodeType) throw new TemplateError(`${r.id}: no CacheNodeType`);
    const engine = cacheEngine(r.props);
    const nodes =
      r.props.NumNodeGroups !== undefined
        ? numberAt(r.props, 1, 'NumNodeGroups') * (1 + numberAt(r.props, 0, 'ReplicasPerNodeGroup'))
        : numberAt(r.props, numberAt(r.props, 1, 'NumCacheNodes'), 'NumCacheClusters');
    return [
      {
        what: `ElastiCache ${engine} ${nodes} x ${nodeType}`,
        monthly: hourly(p, `elasticache.node.${engine}.${nodeType}`, nodes),
      },
    ];
  },
  cacheServerless: (r, _t, p) => {
    const engine = cacheEngine(r.props);
    const floorGb = engine === 'valkey' ? 0.1 : 1;
    const minimumGb = Math.max(
      floorGb,
      numberAt(r.props, 0, 'CacheUsageLimits', 'DataStorage', 'Minimum'),
    );
    return [
      {
        what: `ElastiCache Serverless ${engine}, ${minimumGb} GB metered minimum`,
        monthly: minimumGb * hourly(p, `elasticache.serverless.${engine}.dataGBHour`),
      },
    ];
  },
  alarm: (r, _t, p) => {
    const metrics = Array.isArray(r.props.Metrics)
      ? r.props.Metrics.filter((m) => m && typeof m === 'object' && 'MetricStat' in m).length
      : 1;
    return [
      {
        what: `alarm (${metrics} metric${metrics === 1 ? '' : 's'})`,
        monthly: metrics * p.price('cloudwatch.alarmMetricMonth'),
      },
    ];
  },
  dashboard: (_r, _t, p) => [
    { what: 'CloudWatch dashboard', monthly: p.price('cloudwatch.dashboardMonth') },
  ],
  kmsKey: (_r, _t, p) => [{ what: 'KMS customer managed key', monthly: p.price('kms.keyMonth') }],
  secret: (_r, _t, p) => [
    { what: 'Secrets Manager secret', monthly: p.price('secretsmanager.secretMonth') },
  ],
  // Priced whatever its State: a fetch schedule is created disabled only while the stage's
  // endpoints are placeholders, which no stage runs with.
  schedule: (r, t, p) => {
    const perMonth = runsPerMonth(stringAt(r.props, 'ScheduleExpression'), p.monthHours);
    const target = t.Resources[referencedTarget(r.props) ?? ''];
    const memoryGb = numberAt(target?.Properties, 128, 'MemorySize') / 1024;
    const arch = Array.isArray(target?.Properties?.Architectures)
      ? target.Properties.Architectures[0]
      : 'x86_64';
    const perRun =
      p.price('lambda.requestPerMillion') / 1e6 +
      p.price('scheduler.invocationPerMillion') / 1e6 +
      p.workload('idleRunSeconds') * memoryGb * p.price(`lambda.gbSecond.${String(arch)}`);
    return [
      {
        what: `scheduled runs (${perMonth.toLocaleString('en-US')} a month, nothing to do)`,
        monthly: perMonth * perRun,
      },
    ];
  },
  functionMetrics: (r, t, p) => {
    const service = stringAt(r.props, 'Environment', 'Variables', 'POWERTOOLS_SERVICE_NAME');
    if (!service) return [];
    // A function only Kafka mappings invoke (the merge) runs, and writes its metrics, only while
    // records move: CloudWatch bills a custom metric for the hours it is written in
    // (tools/cost/prices.json, cloudwatch.customMetricMonth), so they are in the variable part.
    if (invokedOnlyByKafka(r.id, t)) return [];
    const count = p.metricsOfService(service);
    return [
      {
        what: `${count} custom metrics of ${service}`,
        monthly: count * p.price('cloudwatch.customMetricMonth'),
      },
    ];
  },
};

function cacheEngine(props: Record<string, unknown>): 'valkey' | 'redis' {
  const engine = (stringAt(props, 'Engine') ?? 'redis').toLowerCase();
  return engine === 'valkey' ? 'valkey' : 'redis';
}

function endpointService(props: Record<string, unknown>): string {
  const json = JSON.stringify(props.ServiceName ?? '');
  return (
    json.match(/\.([a-z0-9-]+)"?\]*\}?$/)?.[1] ?? json.split('.').pop()?.replace(/\W/g, '') ?? '?'
  );
}

/** The root volume of an instance: its first block device, else 8 GB (Amazon Linux 2023's AMI). */
function rootVolumeGb(props: Record<string, unknown>): number {
  const devices = Array.isArray(props.BlockDeviceMappings) ? props.BlockDeviceMappings : [];
  return numberAt(devices[0], 8, 'Ebs', 'VolumeSize');
}

/** An instance in a subnet that maps public IPs on launch, or asking for one, without an EIP. */
function hasAutoPublicIp(r: Resource, t: CfnTemplate): boolean {
  const hasEip = [
    ...resourcesOfType(t, 'AWS::EC2::EIP'),
    ...resourcesOfType(t, 'AWS::EC2::EIPAssociation'),
  ].some((e) => refersTo(e.props, r.id));
  if (hasEip) return false;
  const interfaces = Array.isArray(r.props.NetworkInterfaces) ? r.props.NetworkInterfaces : [];
  if (
    interfaces.some(
      (n) => String((n as Record<string, unknown>).AssociatePublicIpAddress) === 'true',
    )
  )
    return true;
  const subnetId = JSON.stringify(r.props.SubnetId ?? '').match(/"Ref":"([^"]+)"/)?.[1];
  const subnet = subnetId ? t.Resources[subnetId] : undefined;
  return String(subnet?.Properties?.MapPublicIpOnLaunch) === 'true';
}

function referencedTarget(props: Record<string, unknown>): string | undefined {
  const arn = JSON.stringify((props.Target as Record<string, unknown> | undefined)?.Arn ?? '');
  return arn.match(/"Fn::GetAtt":\["([^"]+)"/)?.[1] ?? arn.match(/"Ref":"([^"]+)"/)?.[1];
}

/** Runs an hour of a `rate(N unit)` schedule; a cron or one-off schedule is an error here. */
export function runsPerHour(expression: string | undefined): number {
  const match = expression?.match(/^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/);
  if (!match) throw new TemplateError(`cannot count the runs of schedule "${expression}"`);
  const unit = match[2]?.replace(/s$/, '') ?? 'minute';
  const minutes = Number(match[1]) * ({ minute: 1, hour: 60, day: 1440 }[unit] ?? 1);
  return 60 / minutes;
}

export function runsPerMonth(expression: string | undefined, monthHours: number): number {
  return Math.round(runsPerHour(expression) * monthHours);
}

/** The idle models a `priced` resource type of the data file may name. */
export const IDLE_MODELS: readonly string[] = Object.keys(MODELS);

/** Whether a Kafka event source mapping targets the function, and no schedule does. */
export function invokedOnlyByKafka(id: string, t: CfnTemplate): boolean {
  const targets = (type: string, ...path: string[]) =>
    resourcesOfType(t, type).some((r) => referencedId(at(r.props, ...path)) === id);
  const kafka = resourcesOfType(t, 'AWS::Lambda::EventSourceMapping').some(
    (m) =>
      referencedId(m.props.FunctionName) === id &&
      (m.props.Topics !== undefined ||
        m.props.AmazonManagedKafkaEventSourceConfig !== undefined ||
        m.props.SelfManagedEventSource !== undefined),
  );
  return kafka && !targets('AWS::Scheduler::Schedule', 'Target', 'Arn');
}
