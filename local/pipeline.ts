import type { Logger } from '@aws-lambda-powertools/logger';
import type { MSKEvent } from 'aws-lambda';
import type { Kafka } from 'kafkajs';
import { createFetchHandler } from '../functions/fetch/handler.ts';
import { buildFetchRuntime, type FetchRuntime } from '../functions/fetch/runtime.ts';
import { createMergeHandler } from '../functions/merge/handler.ts';
import { buildMergeRuntime } from '../functions/merge/runtime.ts';
import { replayDeadLetterTopic } from '../shared/adapters/dead-letter-replay.ts';
import { createKafka } from '../shared/adapters/kafka.ts';
import { ensureTopics } from '../shared/adapters/kafka-topics.ts';
import { loadFetchConfig, loadMergeConfig } from '../shared/config.ts';
import type { FetchSummary } from '../shared/pipeline/fetch-source.ts';
import type { MergeSummary } from '../shared/pipeline/merge-batch.ts';
import type { SourceDefinition } from '../shared/sources/definition.ts';
import { BUILT_IN_SOURCES, SOURCE_NAMES, SOURCES, TOPICS } from '../shared/sources/registry.ts';
import { EsmEmulator, waitForDrain } from './esm-emulator.ts';
import { startSideMocks, startSweeper } from './join-runtime.ts';
import { AnalyticsRecorder } from './mocks/analytics-proxy.ts';
import { sampleCustomers, sampleProducts } from './mocks/dataset.ts';
import type { FaultRates } from './mocks/faults.ts';
import { AnalyticsMock, SourceMock } from './mocks/servers.ts';

export type LocalPipelineOptions = {
  brokers: string;
  redisUrl: string;
  /** Prefix of every topic name, so runs and tests do not see each other's records. */
  topicPrefix?: string;
  /** Prefix of every Redis key (join state and idempotency records). */
  redisKeyPrefix?: string;
  records?: number;
  pageSize?: number;
  /** Largest MSK batch the emulated event source mapping hands the merge function. */
  batchSize?: number;
  partitions?: number;
  sourceFaults?: Partial<FaultRates>;
  analyticsFaults?: Partial<FaultRates>;
  onAnalyticsReceive?: (payload: unknown) => void;
  onMergeFailure?: (error: unknown, attempt: number) => void;
  /** Extra settings for the functions (LOG_LEVEL, HTTP_MAX_ATTEMPTS, …), as environment values. */
  settings?: Record<string, string>;
  /** Wraps the merge handler as the emulated event source mapping calls it (fault injection). */
  interceptMerge?: (merge: MergeHandler) => MergeHandler;
  fetchLogger?: (source: string) => Logger;
  mergeLogger?: Logger;
  /** Source definitions (a `--config` file); the bundled ones when unset. */
  sources?: SourceDefinition[];
  /** By source name: the list endpoint of a server the user runs, read instead of the mock. */
  sourceUrls?: Record<string, string>;
  /** By source name: more settings for its fetch function (its secret, …). */
  sourceSettings?: Record<string, Record<string, string>>;
  /** An Analytics API the user runs: the merge posts to it through a recorder. */
  analyticsUrl?: string;
  /** Every fetch ignores the saved cursor (a full re-sync). */
  full?: boolean;
  /** The join declaration (a `--config` file's `join`); each source's side, all required, when unset. */
  join?: unknown;
  /** How often the local sweeper applies the missing-side policy (default 5 s). */
  sweepEveryMs?: number;
};

export type MergeHandler = (event: MSKEvent) => Promise<MergeSummary>;

export type StageTotals = {
  fetch: Record<string, FetchSummary & { runs: number; failures: number }>;
  merge: Omit<MergeSummary, 'durationMs'> & { batches: number; failedInvocations: number };
};

/**
 * The whole pipeline on one machine: mock sources and Analytics on loopback, the fetch handlers
 * called on demand (the scheduler's job), and one emulated event source mapping per topic
 * invoking the merge handler. The handlers and their wiring are the Lambda ones, unchanged.
 */
export async function startLocalPipeline(options: LocalPipelineOptions) {
  const topicPrefix = options.topicPrefix ?? '';
  const records = options.records ?? 50;
  const baseEnv: Record<string, string> = {
    KAFKA_BROKERS: options.brokers,
    TOPIC_PREFIX: topicPrefix,
    LOG_LEVEL: 'INFO',
    ...options.settings,
  };
  const kafka: Kafka = createKafka({
    brokers: options.brokers.split(','),
    clientId: 'local-runtime',
    auth: 'none',
  });
  const sources = options.sources ?? [...BUILT_IN_SOURCES];
  const pipelineSources = {
    ...(options.sources && { PIPELINE_SOURCES: JSON.stringify(options.sources) }),
    ...(options.join !== undefined && { PIPELINE_JOIN: JSON.stringify(options.join) }),
  };
  await ensureTopics(kafka, [
    ...sources.map((source) => ({
      topic: topicPrefix + source.topic,
      numPartitions: options.partitions ?? 3,
    })),
    { topic: topicPrefix + TOPICS.deadLetter, numPartitions: 1 },
    { topic: topicPrefix + TOPICS.quarantine, numPartitions: 1 },
  ]);

  const crm = await new SourceMock(
    SOURCES.crm.path,
    sampleCustomers(records),
    options.sourceFaults,
    7,
  ).start();
  const inventory = await new SourceMock(
    SOURCES.inventory.path,
    sampleProducts(records),
    options.sourceFaults,
    13,
  ).start();
  const analytics = options.analyticsUrl
    ? await new AnalyticsRecorder(options.analyticsUrl, options.onAnalyticsReceive).start()
    : await new AnalyticsMock(options.analyticsFaults, options.onAnalyticsReceive).start();
  const sideMocks = { customer: crm, inventory } as const;
  const join = loadMergeConfig({
    ...baseEnv,
    ...pipelineSources,
    REDIS_URL: options.redisUrl,
    ANALYTICS_URL: analytics.url,
  }).join;
  const extraMocks = await startSideMocks(sources, join, records, options.sourceFaults);
  const mockFor = (source: SourceDefinition) =>
    extraMocks.get(source.name) ??
    sideMocks[join.sideOf[source.name] === 'inventory' ? 'inventory' : 'customer'];
  // Ids published by each source, for the delivery check when a source is not a mock.
  const publishedIds = new Map<string, Set<string>>();

  const fetchRuntimes = sources.map((source) => {
    const name = source.name;
    const url = options.sourceUrls?.[name];
    const config = loadFetchConfig({
      ...baseEnv,
      ...pipelineSources,
      ...options.sourceSettings?.[name],
      SOURCE: name,
      ...(url ? { SOURCE_URL: url } : { SOURCE_BASE_URL: mockFor(source).url }),
      PAGE_SIZE: String(options.pageSize ?? 100),
      // Sync state (cursor, checkpoint, lease) beside the merge's keys, under the run's prefix.
      REDIS_URL: options.redisUrl,
      REDIS_KEY_PREFIX: options.redisKeyPrefix ?? '',
    });
    const runtime = buildFetchRuntime(config, options.fetchLogger?.(name));
    const ids = new Set<string>();
    publishedIds.set(name, ids);
    const publisher = runtime.publisher;
    const recording: FetchRuntime = {
      ...runtime,
      publisher: {
        publish: async (topic, messages) => {
          await publisher.publish(topic, messages);
          for (const message of messages) if (message.key !== null) ids.add(message.key);
        },
        disconnect: () => publisher.disconnect(),
      },
    };
    return recording;
  });
  const fetchers = new Map(
    fetchRuntimes.map((runtime) => [runtime.source.name, createFetchHandler(runtime)]),
  );
  const onMocks = sources.every(
    (source) =>
      SOURCE_NAMES.includes(source.name as never) &&
      source.url === undefined &&
      !options.sourceUrls?.[source.name],
  );

  const mergeRuntime = buildMergeRuntime(
    loadMergeConfig({
      ...baseEnv,
      ...pipelineSources,
      REDIS_URL: options.redisUrl,
      REDIS_KEY_PREFIX: options.redisKeyPrefix ?? '',
      ANALYTICS_URL: analytics.url,
      DEAD_LETTER_TARGET: 'kafka',
    }),
    options.mergeLogger,
  );
  await mergeRuntime.ready();
  const sweeper = startSweeper(mergeRuntime, options.sweepEveryMs ?? 5_000, (error) =>
    options.onMergeFailure?.(error, 0),
  );
  const handler = createMergeHandler(mergeRuntime);
  const merge: MergeHandler = (event) => handler(event);
  const invokeMerge = options.interceptMerge?.(merge) ?? merge;

  const totals: StageTotals = {
    fetch: {},
    merge: {
      batches: 0,
      failedInvocations: 0,
      records: 0,
      quarantined: 0,
      merged: 0,
      waiting: 0,
      posted: 0,
      duplicates: 0,
      deadLettered: 0,
    },
  };
  const esms = sources.map(({ topic: base }) => {
    const topic = topicPrefix + base;
    const esm = new EsmEmulator({
      kafka,
      topic,
      groupId: `${topicPrefix}merge-${base}`,
      batchSize: options.batchSize ?? 1000,
      bootstrapServers: options.brokers,
      invoke: (event) => invokeMerge(event),
      onSuccess: (result) => {
        const summary = result as MergeSummary;
        totals.merge.batches++;
        for (const key of [
          'records',
          'quarantined',
          'merged',
          'waiting',
          'posted',
          'duplicates',
          'deadLettered',
        ] as const) {
          totals.merge[key] += summary[key];
        }
      },
      onFailure: (error, attempt) => {
        totals.merge.failedInvocations++;
        options.onMergeFailure?.(error, attempt);
      },
    });
    return { topic, esm };
  });
  await Promise.all(esms.map(({ esm }) => esm.start()));

  /** Runs one fetch of a source (what one scheduled invocation does) and adds up its summary. */
  const fetchOnce = async (name: string): Promise<FetchSummary> => {
    const fetcher = fetchers.get(name);
    if (!fetcher) throw new Error(`no source named ${name}`);
    totals.fetch[name] ??= {
      source: name,
      correlationId: '',
      outcome: 'complete',
      mode: 'full',
      unchanged: 0,
      fetched: 0,
      published: 0,
      quarantined: 0,
      pages: 0,
      retries: 0,
      durationMs: 0,
      runs: 0,
      failures: 0,
    };
    const total = totals.fetch[name] as StageTotals['fetch'][string];
    total.runs++;
    try {
      // A paused run (time or page budget spent) is continued at once: one invocation each.
      for (;;) {
        const summary = await fetcher(options.full ? { full: true } : undefined);
        for (const key of [
          'fetched',
          'published',
          'quarantined',
          'unchanged',
          'pages',
          'retries',
          'durationMs',
        ] as const)
          total[key] += summary[key];
        total.correlationId = summary.correlationId;
        total.outcome = summary.outcome;
        total.mode = summary.mode;
        if (summary.outcome !== 'paused') return summary;
      }
    } catch (error) {
      total.failures++;
      throw error;
    }
  };

  return {
    kafka,
    crm,
    inventory,
    analytics,
    totals,
    topics: {
      customer: topicPrefix + TOPICS.customer,
      inventory: topicPrefix + TOPICS.inventory,
      deadLetter: topicPrefix + TOPICS.deadLetter,
      quarantine: topicPrefix + TOPICS.quarantine,
    },
    merge,
    fetchOnce,
    join,
    /** Runs the sweeper now (it also runs on its timer); its summary, or undefined if it failed. */
    sweep: () => sweeper.sweepNow(),
    /** The oldest ids still missing a required side, with the sides they hold. */
    async pending(limit = 10) {
      const { pending } = await mergeRuntime.ready();
      return { stats: await pending.stats(), ids: await pending.list(limit) };
    },
    /** One schedule tick: both sources fetched at once. Failed fetches are reported, not thrown. */
    async runCycle(): Promise<PromiseSettledResult<FetchSummary>[]> {
      return Promise.allSettled(sources.map((source) => fetchOnce(source.name)));
    },
    /** Resolves once the merge consumers have committed everything published so far. */
    drain(timeoutMs = 120_000, onWait?: () => void) {
      return waitForDrain(kafka, esms, timeoutMs, onWait);
    },
    /** Re-drives the dead_letter topic through the merge function's idempotent delivery. */
    async replayDeadLetters(timeoutMs = 120_000) {
      const { delivery, log } = await mergeRuntime.ready();
      delivery.registerInvocation({ getRemainingTimeInMillis: () => timeoutMs });
      return replayDeadLetterTopic({
        kafka,
        topic: topicPrefix + TOPICS.deadLetter,
        groupId: `${topicPrefix}replay`,
        delivery,
        log,
        timeoutMs,
      });
    },
    /** Ids that both mock sources hold now: the ids Analytics should hear about. */
    idsInBoth(): Set<string> {
      if (!onMocks) {
        // Counted from what the sources' fetch functions published in this run.
        const bySide = (side: string) =>
          new Set(
            sources
              .filter((source) => join.sideOf[source.name] === side)
              .flatMap((source) => [...(publishedIds.get(source.name) ?? [])]),
          );
        const [first, ...others] = join.required.map(bySide);
        return new Set([...(first ?? [])].filter((id) => others.every((ids) => ids.has(id))));
      }
      const products = new Set(inventory.records.map((record) => String(record.id)));
      return new Set(
        crm.records.map((record) => String(record.id)).filter((id) => products.has(id)),
      );
    },
    async stop(): Promise<void> {
      await sweeper.stop();
      await Promise.allSettled(esms.map(({ esm }) => esm.stop()));
      await Promise.allSettled([
        mergeRuntime.close(),
        ...fetchRuntimes.map((runtime) => runtime.close()),
      ]);
      await Promise.allSettled([
        crm.close(),
        inventory.close(),
        analytics.close(),
        ...[...extraMocks.values()].map((mock) => mock.close()),
      ]);
    },
  };
}

export type LocalPipeline = Awaited<ReturnType<typeof startLocalPipeline>>;
