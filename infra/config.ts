import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { checkDeliveryEnvironment, type DeliveryEnvironment, isHttpUrl } from '../shared/config.ts';
import { ConfigError } from '../shared/errors.ts';
import { type JoinDefinition, parseJoinDefinition } from '../shared/sources/join.ts';
import { SECRET_ARN } from '../shared/sources/pipeline-file.ts';
import { BUILT_IN_SOURCES } from '../shared/sources/registry.ts';
import { type DeploySources, deploySources } from './config-sources.ts';
import { LOCALSTACK_ENDPOINTS } from './localstack.ts';

/** `pipeline:analytics*` context keys of the delivery mode, by the delivery setting each sets. */
const ANALYTICS_CONTEXT = {
  analyticsDelivery: 'ANALYTICS_DELIVERY',
  analyticsBatchMaxEvents: 'ANALYTICS_BATCH_MAX_EVENTS',
  analyticsBatchMaxBytes: 'ANALYTICS_BATCH_MAX_BYTES',
  analyticsBatchBody: 'ANALYTICS_BATCH_BODY',
  analyticsBatchEnvelopeField: 'ANALYTICS_BATCH_ENVELOPE_FIELD',
  analyticsEventIdField: 'ANALYTICS_EVENT_ID_FIELD',
} as const satisfies Record<string, keyof DeliveryEnvironment>;

/**
 * Where the stack is deployed. `aws` is the real thing; `localstack` keeps every function,
 * mapping, queue, secret and alarm and swaps what LocalStack cannot emulate for the containers
 * of docker-compose.localstack.yml (infra/localstack.ts).
 */
const DEPLOY_TARGETS = ['aws', 'localstack'] as const;
export type DeployTarget = (typeof DEPLOY_TARGETS)[number];

/**
 * One architecture, two sizes (docs/deploy.md, "Which profile"). `standard` (the default): MSK
 * Serverless, provisioned pollers on the merge mappings, a NAT gateway, interface endpoints,
 * cache.t4g.small. `small`, for the original's scale (a few records a second): two
 * kafka.t3.small brokers, mappings in on-demand mode (the merge keeps its own retry budget and
 * failure topic), a t4g.nano NAT instance, no interface endpoints, cache.t4g.micro.
 */
const PROFILES = ['standard', 'small'] as const;
export type Profile = (typeof PROFILES)[number];

/** What a profile sizes; every other setting is the same in both. */
export type ProfileShape = {
  /** `serverless` (MSK Serverless) or `provisioned` (two brokers of `brokerType`). */
  kafka: { kind: 'serverless' } | { kind: 'provisioned'; brokerType: string; volumeGb: number };
  /** Provisioned pollers on the merge mappings (`on-demand`: none, the merge's own budget). */
  mappingMode: 'provisioned' | 'on-demand';
  /** `gateway` (a NAT gateway) or `instance` (a NAT instance of `natInstanceType`). */
  nat: { kind: 'gateway' } | { kind: 'instance'; instanceType: string };
  /** Interface endpoints (Secrets Manager, SQS), so those calls do not ride the NAT. */
  interfaceEndpoints: boolean;
};

export const PROFILE_SHAPES: Record<Profile, ProfileShape & { cacheNodeType: string }> = {
  standard: {
    kafka: { kind: 'serverless' },
    mappingMode: 'provisioned',
    nat: { kind: 'gateway' },
    interfaceEndpoints: true,
    cacheNodeType: 'cache.t4g.small',
  },
  small: {
    kafka: { kind: 'provisioned', brokerType: 'kafka.t3.small', volumeGb: 5 },
    mappingMode: 'on-demand',
    nat: { kind: 'instance', instanceType: 't4g.nano' },
    interfaceEndpoints: false,
    cacheNodeType: 'cache.t4g.micro',
  },
};

/**
 * Everything a deployment may change, typed, with the defaults below. Each field can be set as
 * CDK context (`-c pipeline:stage=prod`, or in cdk.json) and is validated here.
 */
export type DeployConfig = DeploySources & {
  /** `aws` (the default) or `localstack`. */
  target: DeployTarget;
  /** `standard` (the default) or `small`; `shape` is what it sizes. */
  profile: Profile;
  shape: ProfileShape;
  /** Prefix of resource names and tag of every resource. */
  stage: string;
  /** The Analytics endpoint. */
  analyticsUrl: string;
  /** Delivery mode and batch limits of the merge and the replay (docs/deploy.md), which validate them. */
  analyticsDelivery: DeliveryEnvironment;
  /** How often each source is fetched, in minutes. */
  fetchRateMinutes: number;
  /** Records per merge invocation, and how long the mapping waits to fill a batch. */
  mergeBatchSize: number;
  mergeBatchingWindowSeconds: number;
  /** Pollers of each event source mapping (provisioned mode): a fixed ceiling on concurrency. */
  mergeMaxPollers: number;
  /** Times the mapping retries a failing batch before it goes to the on-failure queue. */
  mergeRetryAttempts: number;
  /** Partitions of the two source topics. */
  sourceTopicPartitions: number;
  logRetention: RetentionDays;
  /** Cache nodes: 1 for a dev stage, 2+ gives Multi-AZ failover. */
  cacheNodes: number;
  cacheNodeType: string;
  /** Alarm when no fetch has succeeded in this many schedule periods. */
  alarmMissedFetchPeriods: number;
  /** Alarm when the merge mapping's OffsetLag stays above this. */
  alarmOffsetLag: number;
  /**
   * Availability zones by name (`us-east-1a,us-east-1b`), for accounts whose first two zones
   * cannot host the brokers or the cache nodes: `npm run preflight` checks the zones by AZ ID and
   * says which names to give. Unset: the region's first two zones (Fn::GetAZs).
   */
  availabilityZones?: string[];
  /** Email to subscribe to alarms (optional). */
  alarmEmail?: string;
  /** Alarm when an id of the join has been missing a required side for longer than this. */
  alarmOldestPendingMinutes: number;
  /** Alarm when a cache node uses more than this share of its memory (DatabaseMemoryUsagePercentage). */
  alarmCacheMemoryPercent: number;
  /**
   * The join (shared/sources/join.ts), validated against the deployment's sources: the default
   * (each source's side, all required, `wait`) unless the `pipeline:config` file or
   * `pipeline:join` (which wins) declares one.
   */
  join: JoinDefinition;
  /** The declaration as given, which the merge, redrive and sweeper get as PIPELINE_JOIN. */
  joinJson?: string;
  /**
   * Keep the MSK cluster, the cache and the dead-letter queues when the stack is deleted.
   * Default: false for the `dev` stage and the localstack target, true for any other.
   */
  retainData: boolean;
  /**
   * Reserved concurrency of each fetch function (optional). Unset by default: an account with
   * the new-account quota of 10 cannot reserve any. Overlapping runs of a source only publish
   * the same records twice, which the merge's de-duplication absorbs.
   */
  fetchReservedConcurrency?: number;
  /**
   * An existing secret holding {"token": …} for the Analytics API (sent as a bearer token).
   * Unset: Analytics takes no credentials, as the original `POST /analytics/data` does.
   */
  analyticsTokenSecretArn?: string;
};

/** Base URLs of the bundled sources when nothing names theirs (the example hosts of docs/deploy.md). */
const EXAMPLE_BASE_URLS: Record<string, string> = {
  crm: 'https://crm.example.com/api',
  inventory: 'https://inventory.example.com/api',
};

const DEFAULT_CONFIG: DeployConfig = {
  target: 'aws',
  profile: 'standard',
  shape: PROFILE_SHAPES.standard,
  stage: 'dev',
  sources: [...BUILT_IN_SOURCES],
  sourceBaseUrls: {},
  analyticsUrl: 'https://analytics.example.com/analytics',
  analyticsDelivery: {},
  fetchRateMinutes: 5,
  mergeBatchSize: 500,
  mergeBatchingWindowSeconds: 1,
  mergeMaxPollers: 2,
  mergeRetryAttempts: 10,
  sourceTopicPartitions: 6,
  logRetention: RetentionDays.ONE_MONTH,
  cacheNodes: 1,
  cacheNodeType: 'cache.t4g.small',
  alarmMissedFetchPeriods: 3,
  alarmOffsetLag: 10_000,
  alarmOldestPendingMinutes: 60,
  alarmCacheMemoryPercent: 80,
  join: parseJoinDefinition({}, BUILT_IN_SOURCES),
  retainData: false,
  sourceSecretArns: {},
};

const RETENTION: Record<string, RetentionDays> = {
  '7': RetentionDays.ONE_WEEK,
  '14': RetentionDays.TWO_WEEKS,
  '30': RetentionDays.ONE_MONTH,
  '90': RetentionDays.THREE_MONTHS,
  '365': RetentionDays.ONE_YEAR,
};

/**
 * Reads `pipeline:*` context over the defaults. `contextKeys` are every key set (so a
 * per-source key naming no source is refused). Throws naming the bad key.
 */
/** Whether a URL points at the reserved example domain (RFC 2606) the defaults use. */
function isPlaceholder(url: string | undefined): boolean {
  if (url === undefined) return false;
  const host = new URL(url).hostname;
  return host === 'example.com' || host.endsWith('.example.com');
}

/**
 * The context keys whose endpoint is still a placeholder host (`*.example.com`): a stage
 * deployed with any of them fetches or delivers nowhere. Empty on LocalStack, whose defaults are
 * the compose services.
 */
export function placeholderEndpoints(config: DeployConfig): string[] {
  if (config.target !== 'aws') return [];
  const keys = config.sources.flatMap((source) => {
    const base = config.sourceBaseUrls[source.name];
    if (base !== undefined) return isPlaceholder(base) ? [`pipeline:${source.name}BaseUrl`] : [];
    // No base URL: the source's own "url", declared in the pipeline:config file.
    return isPlaceholder(source.url)
      ? [`the "url" of source ${source.name} in pipeline:config`]
      : [];
  });
  if (isPlaceholder(config.analyticsUrl)) keys.push('pipeline:analyticsUrl');
  return keys;
}

export function configFromContext(
  get: (key: string) => unknown,
  contextKeys: readonly string[] = [],
): DeployConfig {
  const config: DeployConfig = structuredClone(DEFAULT_CONFIG);
  const read = (key: string) => get(`pipeline:${key}`);
  const positive = (key: keyof DeployConfig, min: number, max: number) => {
    const raw = read(key);
    if (raw === undefined) return;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(
        `context pipeline:${key} must be a whole number from ${min} to ${max}, got ${String(raw)}`,
      );
    }
    (config as Record<string, unknown>)[key] = value;
  };
  const target = read('target');
  if (target !== undefined) {
    if (!(DEPLOY_TARGETS as readonly unknown[]).includes(target)) {
      throw new Error(
        `context pipeline:target must be ${DEPLOY_TARGETS.join(' or ')}, got ${String(target)}`,
      );
    }
    config.target = target as DeployTarget;
  }
  const profile = read('profile');
  if (profile !== undefined) {
    if (!(PROFILES as readonly unknown[]).includes(profile))
      throw new Error(
        `context pipeline:profile must be ${PROFILES.join(' or ')}, got ${String(profile)}`,
      );
    config.profile = profile as Profile;
  }
  const { cacheNodeType, ...shape } = PROFILE_SHAPES[config.profile];
  config.shape = shape;
  config.cacheNodeType = cacheNodeType;
  const localstack = config.target === 'localstack';
  // The compose services are the defaults there; the file and -c pipeline:…Url override them.
  if (localstack) config.analyticsUrl = LOCALSTACK_ENDPOINTS.analyticsUrl;
  const { fileJoin, fileAnalyticsUrl, ...placed } = deploySources(
    get,
    contextKeys,
    localstack ? LOCALSTACK_ENDPOINTS.sourceBaseUrls : EXAMPLE_BASE_URLS,
  );
  Object.assign(config, placed);
  if (fileAnalyticsUrl !== undefined) config.analyticsUrl = fileAnalyticsUrl;
  config.join = fileJoin?.definition ?? parseJoinDefinition({}, config.sources);
  if (fileJoin) config.joinJson = JSON.stringify(fileJoin.raw);
  const stage = read('stage');
  if (stage !== undefined) {
    if (typeof stage !== 'string' || !/^[a-z][a-z0-9-]{0,15}$/.test(stage)) {
      throw new Error(
        'context pipeline:stage must be lower-case letters, digits and dashes, at most 16',
      );
    }
    config.stage = stage;
  }
  config.retainData = config.stage !== 'dev' && config.target === 'aws';
  const retain = read('retainData');
  if (retain !== undefined) {
    if (retain !== true && retain !== false && retain !== 'true' && retain !== 'false')
      throw new Error(`context pipeline:retainData must be true or false, got ${String(retain)}`);
    config.retainData = retain === true || retain === 'true';
  }
  positive('fetchRateMinutes', 1, 1440);
  positive('mergeBatchSize', 1, 10_000);
  positive('mergeBatchingWindowSeconds', 0, 300);
  positive('mergeMaxPollers', 1, 200);
  positive('mergeRetryAttempts', 0, 10_000);
  positive('sourceTopicPartitions', 1, 1000);
  positive('cacheNodes', 1, 6);
  positive('alarmMissedFetchPeriods', 1, 100);
  positive('alarmOffsetLag', 1, 100_000_000);
  positive('fetchReservedConcurrency', 1, 1000);
  positive('alarmOldestPendingMinutes', 1, 7 * 24 * 60);
  positive('alarmCacheMemoryPercent', 1, 100);
  const zones = read('availabilityZones');
  if (zones !== undefined) {
    const names = String(zones)
      .split(',')
      .map((zone) => zone.trim())
      .filter(Boolean);
    if (names.length !== 2 || names.some((zone) => !/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/.test(zone)))
      throw new Error(
        `context pipeline:availabilityZones must name two zones of the region, such as us-east-1a,us-east-1b (npm run preflight says which), got ${String(zones)}`,
      );
    config.availabilityZones = names;
  }
  const join = read('join');
  if (join !== undefined) {
    // An object in cdk.json, JSON text with -c.
    let raw: unknown = join;
    if (typeof join === 'string') {
      try {
        raw = JSON.parse(join);
      } catch (error) {
        throw new Error(`context pipeline:join is not JSON (${(error as Error).message})`);
      }
    }
    config.join = parseJoinDefinition(raw, config.sources, 'context pipeline:join');
    config.joinJson = JSON.stringify(raw);
  }
  // CloudWatch evaluates an alarm over at most one day (periods x period).
  if (config.alarmMissedFetchPeriods * config.fetchRateMinutes > 24 * 60)
    throw new Error(
      `context pipeline:alarmMissedFetchPeriods x pipeline:fetchRateMinutes must be at most 1440 minutes (CloudWatch evaluates an alarm over one day at most), got ${config.alarmMissedFetchPeriods} x ${config.fetchRateMinutes}`,
    );
  const retention = read('logRetentionDays');
  if (retention !== undefined) {
    const days = RETENTION[String(retention)];
    if (!days)
      throw new Error(
        `context pipeline:logRetentionDays must be one of ${Object.keys(RETENTION).join(', ')}`,
      );
    config.logRetention = days;
  }
  for (const key of ['analyticsUrl', 'cacheNodeType', 'alarmEmail'] as const) {
    const value = read(key);
    if (value !== undefined) config[key] = String(value);
  }
  if (!isHttpUrl(config.analyticsUrl))
    throw new Error(
      `context pipeline:analyticsUrl must be an http(s) URL, got ${config.analyticsUrl}`,
    );
  config.analyticsDelivery = {};
  for (const [key, setting] of Object.entries(ANALYTICS_CONTEXT)) {
    const value = read(key);
    if (value !== undefined) config.analyticsDelivery[setting] = String(value);
  }
  try {
    checkDeliveryEnvironment(config.analyticsDelivery);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const key = Object.entries(ANALYTICS_CONTEXT).find(([, name]) => name === error.setting)?.[0];
    throw new Error(`context pipeline:${key ?? error.setting}: ${error.message}`);
  }
  const secretArn = (key: string): string | undefined => {
    const value = read(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !SECRET_ARN.test(value))
      throw new Error(
        `context pipeline:${key} must be the ARN of a Secrets Manager secret, got ${String(value)}`,
      );
    return value;
  };
  const analyticsSecret = secretArn('analyticsTokenSecretArn');
  if (analyticsSecret) config.analyticsTokenSecretArn = analyticsSecret;
  return config;
}
