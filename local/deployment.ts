import type { Kafka } from 'kafkajs';
import { createMergeHandler, type MergeResult } from '../functions/merge/handler.ts';
import { redriveFailedBatches } from '../functions/redrive/failed-topics.ts';
import { replayDeadLetterTopic } from '../functions/replay/dead-letter-topic.ts';
import { createKafka } from '../shared/adapters/kafka.ts';
import { ensureTopics } from '../shared/adapters/kafka-topics.ts';
import { failedTopicOf } from '../shared/domain/failed-batch.ts';
import { BUILT_IN_SOURCES, SOURCE_NAMES, TOPICS } from '../shared/sources/registry.ts';
import type { FetchSummary } from '../shared/use-cases/fetch-source.ts';
import type { MergeSummary } from '../shared/use-cases/merge-batch.ts';
import type { LocalDeploymentOptions, MergeHandler } from './deployment-options.ts';
import { EsmEmulator, waitForDrain } from './esm-emulator.ts';
import { startSweeper } from './join-runtime.ts';
import { startMockHost } from './mocks/mock-host.ts';
import { deleteRunState } from './run-state.ts';
import { wireHandlers } from './wiring.ts';

export type {
  LocalDeploymentOptions,
  MergeHandler,
  PublishFn,
} from './deployment-options.ts';

export type StageTotals = {
  fetch: Record<string, FetchSummary & { runs: number; failures: number }>;
  merge: Omit<MergeSummary, 'durationMs' | 'retry'> & {
    batches: number;
    failedInvocations: number;
    /** Records the emulated mappings handed to failed_<topic> after their last retry. */
    gaveUp: number;
    /**
     * Records out of retries that failed_<topic> did not take either: dropped, as Lambda drops
     * them (its DroppedEventCount metric).
     */
    dropped: number;
    /** POSTs retried after a timeout or reset once sent (the sink may have processed them). */
    readonly ambiguousRetries: number;
  };
};

/**
 * The whole pipeline deployed on one machine, the stand-in for the stack: mock sources and
 * Analytics on loopback, in a worker thread of their own (mocks/mock-host.ts), the fetch handlers
 * called on demand (the scheduler's job), and one emulated event source mapping per topic
 * invoking the merge handler. The handlers and their wiring are the Lambda ones, unchanged.
 */
export async function startLocalDeployment(options: LocalDeploymentOptions) {
  const topicPrefix = options.topicPrefix ?? '';
  const records = options.records ?? 50;
  const baseEnv: Record<string, string> = {
    KAFKA_BROKERS: options.brokers,
    TOPIC_PREFIX: topicPrefix,
    LOG_LEVEL: 'INFO',
    ...options.settings,
  };
  const kafkaError =
    options.onKafkaError ?? ((line: string) => process.stderr.write(`local runtime: ${line}\n`));
  const kafka: Kafka = createKafka(
    { brokers: options.brokers.split(','), clientId: 'local-runtime', auth: 'none' },
    kafkaError,
  );
  const sources = options.sources ?? [...BUILT_IN_SOURCES];
  // The topics and the mock worker (about a second to load) start side by side. The worker hosts
  // the mock CRM and Inventory (read by the built-in sources that have no URL of their own) and
  // Analytics: the mock, or with `analyticsUrl` the recorder in front of the user's server.
  // Styled mock sources (`--source-style/--source-auth`) stay in the CLI's process, which starts
  // them from its flags before the pipeline (local/sources.ts): they only answer GETs, where an
  // answer read late costs a retried page read that de-duplication absorbs, never a payload
  // delivered twice, so moving them behind the worker's message port would buy nothing.
  const [topics, started] = await Promise.allSettled([
    ensureTopics(kafka, [
      ...sources.map((source) => ({
        topic: topicPrefix + source.topic,
        numPartitions: options.partitions ?? 3,
      })),
      { topic: topicPrefix + TOPICS.deadLetter, numPartitions: 1 },
      { topic: topicPrefix + TOPICS.quarantine, numPartitions: 1 },
      ...sources.map((source) => ({
        topic: topicPrefix + failedTopicOf(source.topic),
        numPartitions: 1,
      })),
    ]),
    startMockHost({
      records,
      ...(options.sourceFaults && { sourceFaults: options.sourceFaults }),
      ...(options.analyticsFaults && { analyticsFaults: options.analyticsFaults }),
      ...(options.faultSeed !== undefined && { faultSeed: options.faultSeed }),
      honourIdempotencyKey: options.analyticsHonoursIdempotencyKey ?? true,
      ...(options.analyticsUrl && { analyticsTarget: options.analyticsUrl }),
      ...(options.onAnalyticsReceive && { onReceive: options.onAnalyticsReceive }),
    }),
  ]);
  if (topics.status === 'rejected') {
    if (started.status === 'fulfilled') await started.value.stop();
    throw topics.reason;
  }
  if (started.status === 'rejected') throw started.reason;
  const mocks = started.value;
  const { crm, inventory, analytics } = mocks;
  // Settings are checked here: a bad one must not leave the mock worker running.
  const wired = await wireHandlers(options, baseEnv, sources, mocks, records).catch(
    async (error: unknown) => {
      await mocks.stop();
      throw error;
    },
  );
  const {
    fetchRuntimes,
    fetchers,
    mergeRuntime,
    mergeEnvironment,
    publishedIds,
    join,
    extraMocks,
  } = wired;
  const sweeper = startSweeper(mergeRuntime, options.sweepEveryMs ?? 5_000, (error) =>
    options.onMergeFailure?.(error, 0),
  );
  // Every source is a mock in the worker: the ids Analytics should hear about are read there.
  const onMocks = sources.every(
    (source) =>
      SOURCE_NAMES.includes(source.name as never) &&
      source.url === undefined &&
      !options.sourceUrls?.[source.name],
  );
  const handler = createMergeHandler(mergeRuntime);
  const merge: MergeHandler = (event, context) => handler(event, context);
  const invokeMerge = options.interceptMerge?.(merge) ?? merge;

  const totals: StageTotals = {
    fetch: {},
    merge: {
      batches: 0,
      failedInvocations: 0,
      gaveUp: 0,
      dropped: 0,
      records: 0,
      quarantined: 0,
      merged: 0,
      waiting: 0,
      posted: 0,
      duplicates: 0,
      deadLettered: 0,
      held: 0,
      get ambiguousRetries() {
        return mergeRuntime.analyticsCalls.ambiguousRetries;
      },
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
      ...(options.retryAttempts !== undefined && { retryAttempts: options.retryAttempts }),
      failedTopic: topicPrefix + failedTopicOf(base),
      ...(options.mapping && { mode: options.mapping }),
      onGiveUp: (_error, count) => {
        totals.merge.gaveUp += count;
      },
      onDrop: (error, count) => {
        totals.merge.dropped += count;
        kafkaError(
          `${count} record(s) of ${topic} dropped: out of retries, and ${topicPrefix + failedTopicOf(base)} did not take them (${(error as Error).message})`,
        );
      },
      invoke: (event) => invokeMerge(event),
      onSuccess: (result) => {
        const summary = result as MergeResult;
        totals.merge.batches++;
        // On-demand mappings: the merge gave the batch up to failed_<topic> itself.
        totals.merge.gaveUp += summary.failedBatchRecords ?? 0;
        for (const key of [
          'records',
          'quarantined',
          'merged',
          'waiting',
          'posted',
          'duplicates',
          'deadLettered',
          'held',
        ] as const) {
          totals.merge[key] += summary[key];
        }
      },
      onCrash: (error, restart) =>
        kafkaError(
          `the consumer of ${topic} crashed (${error.name}: ${error.message}); ${restart ? 'kafkajs restarts it' : 'it stays down'}`,
        ),
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
      // A failed invocation returns no summary; its retries are counted all the same.
      total.retries += wired.latestRetries(name);
      throw error;
    }
  };

  return {
    kafka,
    crm,
    inventory,
    analytics,
    /**
     * Whether Analytics honours Idempotency-Key: the mock does unless switched off; of a server
     * the user runs we cannot tell, so the delivery check treats it as one that ignores the key
     * (duplicates are accepted only up to the ambiguous retries, and reported).
     */
    analyticsHonoursKey: options.analyticsUrl
      ? false
      : (options.analyticsHonoursIdempotencyKey ?? true),
    /** The Analytics API the user runs, when the merge posts to it through the recorder. */
    analyticsTarget: options.analyticsUrl,
    totals,
    /**
     * The environment the merge function runs with here (brokers, Redis and its key prefix,
     * Analytics, topic prefix, sources): what `npm run replay` and `npm run redrive` need to
     * work on this deployment while it runs (local/operator-commands.ts).
     */
    mergeEnvironment,
    topics: {
      customer: topicPrefix + TOPICS.customer,
      inventory: topicPrefix + TOPICS.inventory,
      deadLetter: topicPrefix + TOPICS.deadLetter,
      quarantine: topicPrefix + TOPICS.quarantine,
      failed: sources.map((source) => topicPrefix + failedTopicOf(source.topic)),
    },
    merge,
    fetchOnce,
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
    join,
    /** Runs the sweeper now (it also runs on its timer); its summary, or undefined if it failed. */
    sweep: () => sweeper.sweepNow(),
    /** The merge's connected dependencies, which the sweeper shares (fault rows wrap them). */
    mergeDeps: () => mergeRuntime.ready(),
    /** The oldest ids still missing a required side, with the sides they hold. */
    async pending(limit = 10) {
      const { pending } = await mergeRuntime.ready();
      return { stats: await pending.stats(), ids: await pending.list(limit) };
    },
    /** Re-drives the failed_<topic> topics through the merge (what `npm run redrive` does). */
    async redriveFailedBatches(timeoutMs = 120_000, lockMs = 60_000) {
      const deps = await mergeRuntime.ready();
      // A payload in flight stays locked this long at most if the re-drive stops midway.
      deps.delivery.registerInvocation({ getRemainingTimeInMillis: () => lockMs });
      return redriveFailedBatches({
        kafka,
        sourceTopics: sources.map((source) => topicPrefix + source.topic),
        topicPrefix,
        groupId: `${topicPrefix}redrive`,
        deps,
        timeoutMs,
      });
    },
    /**
     * The ids Analytics should hear about: those every required side's mock holds now, or, when
     * a source is not a mock in the worker (a URL, a `--config` file, a styled mock, a third
     * side), the ids that every required side's fetch functions published in this run.
     */
    async idsInBoth(): Promise<Set<string>> {
      if (!onMocks) {
        const bySide = (side: string) =>
          new Set(
            sources
              .filter((source) => join.sideOf[source.name] === side)
              .flatMap((source) => [...(publishedIds.get(source.name) ?? [])]),
          );
        const [first, ...others] = join.required.map(bySide);
        return new Set([...(first ?? [])].filter((id) => others.every((ids) => ids.has(id))));
      }
      const [customers, products] = await Promise.all([crm.records(), inventory.records()]);
      const productIds = new Set(products.map((record) => String(record.id)));
      return new Set(
        customers.map((record) => String(record.id)).filter((id) => productIds.has(id)),
      );
    },
    /**
     * Deletes this run's Redis keys (join state, idempotency records, the sources' cursors,
     * checkpoints and leases); returns how many. Needs a
     * redisKeyPrefix: without one the keys are not the run's alone.
     */
    deleteState(): Promise<number> {
      return deleteRunState(options.redisUrl, options.redisKeyPrefix ?? '');
    },
    async stop(): Promise<void> {
      await Promise.allSettled(esms.map(({ esm }) => esm.stop()));
      await sweeper.stop();
      await Promise.allSettled([
        mergeRuntime.close(),
        ...fetchRuntimes.map((runtime) => runtime.close()),
      ]);
      await Promise.allSettled([
        mocks.stop(),
        ...[...extraMocks.values()].map((mock) => mock.close()),
      ]);
    },
  };
}

export type LocalDeployment = Awaited<ReturnType<typeof startLocalDeployment>>;
