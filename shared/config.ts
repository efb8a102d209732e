import { z } from 'zod';
import type { BatchFormat } from './domain/analytics-batch.ts';
import type { RetryPolicy } from './domain/retry-policy.ts';
import { ConfigError } from './errors.ts';
import { parseSourceDefinitions, type SourceDefinition } from './sources/definition.ts';
import { type JoinDefinition, parseJoinDefinition } from './sources/join.ts';
import { BUILT_IN_SOURCES } from './sources/registry.ts';

/**
 * The one module that reads the environment. Each function parses its settings once at start;
 * a missing or malformed setting throws ConfigError naming it, before any connection is made.
 */
type Env = Record<string, string | undefined>;

const int = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const brokerList = z
  .string({ error: 'is required (comma-separated host:port list)' })
  .transform((value) =>
    value
      .split(',')
      .map((broker) => broker.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each broker must be host:port'))
      .min(1, 'needs at least one broker'),
  );

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** Whether `value` is a URL the functions accept for an http(s) setting (the CDK app checks with it). */
export function isHttpUrl(value: unknown): boolean {
  return httpUrl.safeParse(value).success;
}

const common = {
  LOG_LEVEL: z
    .string()
    .default('INFO')
    .transform((level) => level.toUpperCase())
    .pipe(z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'])),
  /** `emf` writes CloudWatch embedded-metric lines to stdout; `off` writes none (tests). */
  METRICS: z.enum(['emf', 'off']).default('emf'),
  KAFKA_BROKERS: brokerList,
  KAFKA_AUTH: z.enum(['none', 'iam']).default('none'),
  KAFKA_CLIENT_ID: z.string().min(1).default('merge-pipeline'),
  AWS_REGION: z.string().optional(),
  TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, . _ - only')
    .default(''),
  HTTP_MAX_ATTEMPTS: int(1, 20, 5),
  HTTP_BASE_DELAY_MS: int(1, 60_000, 200),
  HTTP_MAX_DELAY_MS: int(1, 300_000, 10_000),
  HTTP_TIMEOUT_MS: int(100, 120_000, 5_000),
  /** Largest source record, as JSON, the pipeline accepts; larger ones are quarantined. */
  MAX_RECORD_BYTES: int(100, 100_000, 100_000),
};

/** The HTTP retry settings every function parses (HTTP_MAX_ATTEMPTS, …). */
type HttpRetrySettings = {
  [Name in
    | 'HTTP_MAX_ATTEMPTS'
    | 'HTTP_BASE_DELAY_MS'
    | 'HTTP_MAX_DELAY_MS'
    | 'HTTP_TIMEOUT_MS']: number;
};

/** The retry policy (http-retry.ts) a function's HTTP_* settings describe. */
export function retryPolicyOf(config: HttpRetrySettings): RetryPolicy {
  return {
    maxAttempts: config.HTTP_MAX_ATTEMPTS,
    baseDelayMs: config.HTTP_BASE_DELAY_MS,
    maxDelayMs: config.HTTP_MAX_DELAY_MS,
    timeoutMs: config.HTTP_TIMEOUT_MS,
  };
}

const redisUrl = z
  .string()
  .regex(/^rediss?:\/\/[^\s]+$/, 'must be redis://host:port or rediss://host:port');

/** Source definitions as JSON (a `--config` file locally); the bundled registry when unset. */
const sourcesSetting = {
  PIPELINE_SOURCES: z.string().optional(),
  /** The join declaration as JSON; each source's side, all required, `wait` when unset. */
  PIPELINE_JOIN: z.string().optional(),
};

const fetchSchema = z.object({
  ...common,
  ...sourcesSetting,
  SOURCE: z.string({ error: 'is required (the name of a source definition)' }).min(1),
  /** The list endpoint as a full URL; else the definition's url, else SOURCE_BASE_URL + path. */
  SOURCE_URL: httpUrl.optional(),
  SOURCE_BASE_URL: httpUrl.optional(),
  /** The source's secret: Secrets Manager on AWS; the text itself or a file locally. */
  SOURCE_SECRET_ARN: z.string().startsWith('arn:').optional(),
  SOURCE_TOKEN_SECRET_ARN: z.string().startsWith('arn:').optional(),
  SOURCE_SECRET: z.string().min(1).optional(),
  SOURCE_SECRET_FILE: z.string().min(1).optional(),
  PAGE_SIZE: int(1, 10_000, 100),
  MAX_PAGES: int(1, 1_000_000, 10_000),
  /** Where the cursor, checkpoint and lease live; without it every run is full. */
  REDIS_URL: redisUrl.optional(),
  REDIS_AUTH_SECRET_ARN: z.string().startsWith('arn:').optional(),
  REDIS_KEY_PREFIX: z.string().default(''),
  /** Caps one invocation's run (on Lambda the remaining time caps it too). */
  FETCH_TIME_LIMIT_MS: z.coerce.number().int().min(100).max(86_400_000).optional(),
  /** Time kept free at the end of an invocation: no page is started inside it. */
  FETCH_STOP_MARGIN_MS: int(0, 600_000, 10_000),
  FETCH_LEASE_MS: int(1_000, 3_600_000, 30_000),
});

/**
 * How the merge delivers to Analytics: `single` (one payload per POST, the original API) or
 * `batch` (many per request, within the sink's count and byte limits, each event with its id).
 */
const analyticsBatchSettings = {
  ANALYTICS_DELIVERY: z.enum(['single', 'batch']).default('single'),
  ANALYTICS_BATCH_MAX_EVENTS: int(1, 100_000, 500),
  ANALYTICS_BATCH_MAX_BYTES: int(1_024, 64 * 1024 * 1024, 500_000),
  /** `array` (a JSON array), `ndjson` (one event a line) or `envelope` (`{"<field>": [...]}`). */
  ANALYTICS_BATCH_BODY: z.enum(['array', 'ndjson', 'envelope']).default('array'),
  ANALYTICS_BATCH_ENVELOPE_FIELD: z
    .string()
    .regex(/^[A-Za-z_$][\w$]*$/, 'must be a plain field name')
    .default('batch'),
  /** The field each event carries its id in (Segment `messageId`, Amplitude `insert_id`). */
  ANALYTICS_EVENT_ID_FIELD: z
    .string()
    .regex(/^[A-Za-z_$][\w$]*$/, 'must be a plain field name')
    .default('eventId'),
};

/**
 * Where and how payloads are delivered once: the idempotency records in Redis, the Analytics
 * API and its delivery mode. The merge and the replay parse the same settings.
 */
const deliverySettings = {
  REDIS_URL: redisUrl,
  REDIS_AUTH_SECRET_ARN: z.string().startsWith('arn:').optional(),
  REDIS_KEY_PREFIX: z.string().default(''),
  /** Cap of the Redis client's reconnect backoff: a command fails after 3 failed reconnects. */
  REDIS_RETRY_MAX_DELAY_MS: int(10, 60_000, 2_000),
  /** How long the writes after a POST (completed marks, releases) retry through an outage. */
  REDIS_SETTLE_MS: int(0, 600_000, 30_000),
  IDEMPOTENCY_TTL_SECONDS: int(1, 30 * 86_400, 86_400),
  ANALYTICS_URL: httpUrl,
  ANALYTICS_TOKEN_SECRET_ARN: z.string().startsWith('arn:').optional(),
  ANALYTICS_CONCURRENCY: int(1, 1024, 32),
  ...analyticsBatchSettings,
};

const mergeSchema = z
  .object({
    ...common,
    ...sourcesSetting,
    ...deliverySettings,
    JOIN_TTL_SECONDS: int(0, 365 * 86_400, 7 * 86_400),
    DEAD_LETTER_TARGET: z.enum(['kafka', 'sqs']).default('kafka'),
    DEAD_LETTER_QUEUE_URL: httpUrl.optional(),
    /** Most pending ids one sweep acts on. */
    SWEEP_LIMIT: int(1, 100_000, 1_000),
    /**
     * How the merge's event source mappings run: `provisioned` (pollers, partial batch response,
     * retry limit and Kafka on-failure destination set on the mapping) or `on-demand` (none of
     * those: the merge throws on held records and gives up to `failed_<topic>` itself).
     */
    MERGE_MAPPING_MODE: z.enum(['provisioned', 'on-demand']).default('provisioned'),
    /** On-demand mode: retries of a failing batch before the merge writes it to its failed topic. */
    MERGE_RETRY_ATTEMPTS: int(0, 10_000, 10),
  })
  .refine((config) => config.DEAD_LETTER_TARGET !== 'sqs' || config.DEAD_LETTER_QUEUE_URL, {
    path: ['DEAD_LETTER_QUEUE_URL'],
    message: 'is required when DEAD_LETTER_TARGET=sqs',
  });

/** The replay function's settings: a logger, HTTP retries and the delivery, nothing of Kafka. */
const replaySchema = z.object({
  LOG_LEVEL: common.LOG_LEVEL,
  HTTP_MAX_ATTEMPTS: common.HTTP_MAX_ATTEMPTS,
  HTTP_BASE_DELAY_MS: common.HTTP_BASE_DELAY_MS,
  HTTP_MAX_DELAY_MS: common.HTTP_MAX_DELAY_MS,
  HTTP_TIMEOUT_MS: common.HTTP_TIMEOUT_MS,
  ...deliverySettings,
});

/** `npm run replay`: the replay's settings, plus the broker and topic prefix of dead_letter. */
const topicReplaySchema = replaySchema.extend({
  KAFKA_BROKERS: common.KAFKA_BROKERS,
  KAFKA_AUTH: common.KAFKA_AUTH,
  KAFKA_CLIENT_ID: common.KAFKA_CLIENT_ID,
  AWS_REGION: common.AWS_REGION,
  TOPIC_PREFIX: common.TOPIC_PREFIX,
});

function parseEnv<T>(schema: z.ZodType<T>, env: Env): T {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const setting = issue.path.join('.') || '(environment)';
    const message =
      issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
    return `${setting} ${message}`;
  });
  const first = parsed.error.issues[0]?.path.join('.') ?? '(environment)';
  throw new ConfigError(first, problems.join('; '));
}

function withIam<T extends { KAFKA_AUTH: string; AWS_REGION?: string | undefined }>(config: T): T {
  if (config.KAFKA_AUTH === 'iam' && !config.AWS_REGION) {
    throw new ConfigError('AWS_REGION', 'AWS_REGION is required when KAFKA_AUTH=iam');
  }
  return config;
}

const adminSchema = z.object({
  LOG_LEVEL: common.LOG_LEVEL,
  KAFKA_BROKERS: common.KAFKA_BROKERS,
  KAFKA_AUTH: common.KAFKA_AUTH,
  KAFKA_CLIENT_ID: common.KAFKA_CLIENT_ID,
  AWS_REGION: common.AWS_REGION,
});

export type AdminConfig = z.infer<typeof adminSchema>;

/** Settings of the topic-creating custom resource. */
export function loadAdminConfig(env: Env = process.env): AdminConfig {
  return withIam(parseEnv(adminSchema, env));
}

export type FetchConfig = z.infer<typeof fetchSchema> & {
  /** The definition named by SOURCE. */
  source: SourceDefinition;
  /** Its list endpoint, resolved. */
  endpoint: string;
  /** Where its secret comes from, when its auth needs one. */
  secret?: { arn: string } | { file: string } | { text: string };
};
/** The delivery settings, with the batch format they describe. */
type WithBatchFormat<Parsed> = Parsed & {
  /** The batch format when ANALYTICS_DELIVERY=batch; undefined in single mode. */
  analyticsBatch?: BatchFormat;
};
export type MergeConfig = WithBatchFormat<z.infer<typeof mergeSchema>> & {
  sources: SourceDefinition[];
  join: JoinDefinition;
};
export type ReplayConfig = WithBatchFormat<z.infer<typeof replaySchema>>;
export type TopicReplayConfig = WithBatchFormat<z.infer<typeof topicReplaySchema>>;

/** The source definitions of a deployment: PIPELINE_SOURCES, else the bundled registry. */
function sourcesOf(json: string | undefined): SourceDefinition[] {
  if (json === undefined) return [...BUILT_IN_SOURCES];
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new ConfigError(
      'PIPELINE_SOURCES',
      `PIPELINE_SOURCES is not JSON (${(error as Error).message})`,
    );
  }
  return parseSourceDefinitions(raw, 'PIPELINE_SOURCES');
}

/** The join of a deployment: PIPELINE_JOIN validated against its sources. */
function joinOf(json: string | undefined, sources: SourceDefinition[]): JoinDefinition {
  let raw: unknown = {};
  if (json !== undefined) {
    try {
      raw = JSON.parse(json);
    } catch (error) {
      throw new ConfigError(
        'PIPELINE_JOIN',
        `PIPELINE_JOIN is not JSON (${(error as Error).message})`,
      );
    }
  }
  return parseJoinDefinition(raw, sources, 'PIPELINE_JOIN');
}

/**
 * The variables a deployment may give a function, by the names its loader parses: the CDK
 * stack types the environment it sets with these, so renaming a setting fails the typecheck.
 */
type EnvironmentOf<Schema extends z.ZodObject> = { [Name in keyof z.input<Schema>]?: string };
export type AdminEnvironment = EnvironmentOf<typeof adminSchema>;
export type FetchEnvironment = EnvironmentOf<typeof fetchSchema>;
export type MergeEnvironment = EnvironmentOf<typeof mergeSchema>;
export type ReplayEnvironment = EnvironmentOf<typeof replaySchema>;
/** The delivery settings a deployment chooses (mode and batch limits), shared by merge and replay. */
export type DeliveryEnvironment = {
  [Name in keyof typeof analyticsBatchSettings]?: string;
};

/**
 * Checks a deployment's delivery mode and batch limits as the merge and the replay will parse
 * them, so the stack refuses a bad value at synth instead of each invocation at run time.
 * Throws ConfigError naming the first bad setting.
 */
export function checkDeliveryEnvironment(env: DeliveryEnvironment): void {
  parseEnv(z.object(analyticsBatchSettings), env);
}

/** Every setting each loader parses (the env contract test compares the template with these). */
export const SETTINGS = {
  admin: Object.keys(adminSchema.shape),
  fetch: Object.keys(fetchSchema.shape),
  merge: Object.keys(mergeSchema.shape),
  replay: Object.keys(replaySchema.shape),
  /** `npm run replay` (the dead_letter topic); `npm run redrive` parses the merge's. */
  topicReplay: Object.keys(topicReplaySchema.shape),
} as const;

/** Settings of the fetch function. Throws ConfigError naming the first bad setting. */
export function loadFetchConfig(env: Env = process.env): FetchConfig {
  const parsed = withIam(parseEnv(fetchSchema, env));
  const sources = sourcesOf(parsed.PIPELINE_SOURCES);
  const source = sources.find((candidate) => candidate.name === parsed.SOURCE);
  if (!source) {
    throw new ConfigError(
      'SOURCE',
      `SOURCE must be one of ${sources.map((candidate) => candidate.name).join(', ')}`,
    );
  }
  const base = parsed.SOURCE_BASE_URL?.replace(/\/$/, '');
  const endpoint =
    parsed.SOURCE_URL ??
    source.url ??
    (base !== undefined && source.path !== undefined ? base + source.path : undefined);
  if (endpoint === undefined) {
    throw new ConfigError(
      'SOURCE_URL',
      `source "${source.name}" has no endpoint: set SOURCE_URL, or SOURCE_BASE_URL for its path ${source.path ?? ''}`.trim(),
    );
  }
  const arn = parsed.SOURCE_SECRET_ARN ?? parsed.SOURCE_TOKEN_SECRET_ARN;
  const secret =
    arn !== undefined
      ? { arn }
      : parsed.SOURCE_SECRET_FILE !== undefined
        ? { file: parsed.SOURCE_SECRET_FILE }
        : parsed.SOURCE_SECRET !== undefined
          ? { text: parsed.SOURCE_SECRET }
          : undefined;
  if (source.auth.type !== 'none' && secret === undefined) {
    throw new ConfigError(
      'SOURCE_SECRET',
      `source "${source.name}": auth.type "${source.auth.type}" needs a secret: set SOURCE_SECRET_ARN (AWS), SOURCE_SECRET or SOURCE_SECRET_FILE`,
    );
  }
  return { ...parsed, source, endpoint, ...(secret && { secret }) };
}

/** The batch format ANALYTICS_DELIVERY=batch and its limits describe, else nothing. */
function withBatchFormat<Parsed extends z.infer<typeof replaySchema>>(
  parsed: Parsed,
): WithBatchFormat<Parsed> {
  if (parsed.ANALYTICS_DELIVERY !== 'batch') return parsed;
  return {
    ...parsed,
    analyticsBatch: {
      maxEvents: parsed.ANALYTICS_BATCH_MAX_EVENTS,
      maxBytes: parsed.ANALYTICS_BATCH_MAX_BYTES,
      body: parsed.ANALYTICS_BATCH_BODY,
      envelopeField: parsed.ANALYTICS_BATCH_ENVELOPE_FIELD,
      eventIdField: parsed.ANALYTICS_EVENT_ID_FIELD,
    },
  };
}

/** Settings of the merge function. Throws ConfigError naming the first bad setting. */
export function loadMergeConfig(env: Env = process.env): MergeConfig {
  const parsed = withBatchFormat(withIam(parseEnv(mergeSchema, env)));
  const sources = sourcesOf(parsed.PIPELINE_SOURCES);
  return { ...parsed, sources, join: joinOf(parsed.PIPELINE_JOIN, sources) };
}

/** Settings of the replay function (SQS). Throws ConfigError naming the first bad setting. */
export function loadReplayConfig(env: Env = process.env): ReplayConfig {
  return withBatchFormat(parseEnv(replaySchema, env));
}

/** Settings of `npm run replay` (the dead_letter topic). Throws ConfigError like the others. */
export function loadTopicReplayConfig(env: Env = process.env): TopicReplayConfig {
  return withBatchFormat(withIam(parseEnv(topicReplaySchema, env)));
}

const localSchema = z.object({
  LOG_LEVEL: common.LOG_LEVEL,
  /** An existing broker to use; when unset, the local runtime starts its own. */
  KAFKA_BROKERS: z.string().pipe(brokerList).optional(),
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
});

export type LocalConfig = z.infer<typeof localSchema>;

/** Settings of the local runtime, the tests and the benchmark. */
export function loadLocalConfig(env: Env = process.env): LocalConfig {
  return parseEnv(localSchema, env);
}
