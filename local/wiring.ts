import { createFetchHandler } from '../functions/fetch/handler.ts';
import { buildFetchRuntime, type FetchRuntime } from '../functions/fetch/runtime.ts';
import { buildMergeRuntime } from '../functions/merge/runtime.ts';
import type { HttpSourceReader } from '../shared/adapters/source-reader.ts';
import { loadFetchConfig, loadMergeConfig } from '../shared/config.ts';
import type { SourceDefinition } from '../shared/sources/definition.ts';
import type { LocalDeploymentOptions, PublishFn } from './deployment-options.ts';
import { startSideMocks } from './join-runtime.ts';
import type { MockHost } from './mocks/mock-host.ts';

/**
 * The fetch handlers (one per source definition) and the merge runtime, built from the
 * functions' own config parsing. A built-in source without a URL of its own reads the mock of
 * its side in the mock worker. Each fetch function's published ids are noted by source name, for
 * the delivery check when a source is not a mock.
 */
export async function wireHandlers(
  options: LocalDeploymentOptions,
  baseEnv: Record<string, string>,
  sources: SourceDefinition[],
  mocks: MockHost,
  records: number,
) {
  const pipelineSources = {
    ...(options.sources && { PIPELINE_SOURCES: JSON.stringify(options.sources) }),
    ...(options.join !== undefined && { PIPELINE_JOIN: JSON.stringify(options.join) }),
  };
  // The join as the merge function will read it: which side each source fills.
  const join = loadMergeConfig({
    ...baseEnv,
    ...pipelineSources,
    REDIS_URL: options.redisUrl,
    ANALYTICS_URL: mocks.analytics.url,
  }).join;
  // A side neither the CRM nor the Inventory mock serves (a third source) gets a mock of its own.
  const extraMocks = await startSideMocks(
    sources,
    join,
    records,
    options.sourceFaults,
    options.faultSeed,
  );
  const mockUrlOf = (source: SourceDefinition) =>
    extraMocks.get(source.name)?.url ??
    (join.sideOf[source.name] === 'inventory' ? mocks.inventory.url : mocks.crm.url);
  const publishedIds = new Map<string, Set<string>>();
  // The reader of each source's latest invocation: a run that fails returns no summary, and its
  // retries are counted from here (the summary's `retries` column counts failed runs' too).
  const latestReaders = new Map<string, HttpSourceReader>();
  const fetchRuntimes: FetchRuntime[] = [];
  try {
    for (const source of sources) {
      const name = source.name;
      const url = options.sourceUrls?.[name];
      const config = loadFetchConfig({
        ...baseEnv,
        ...pipelineSources,
        ...options.sourceSettings?.[name],
        SOURCE: name,
        ...(url ? { SOURCE_URL: url } : { SOURCE_BASE_URL: mockUrlOf(source) }),
        PAGE_SIZE: String(options.pageSize ?? 100),
        // Sync state (cursor, checkpoint, lease) beside the merge's keys, under the run's prefix.
        REDIS_URL: options.fetchRedisUrl ?? options.redisUrl,
        REDIS_KEY_PREFIX: options.redisKeyPrefix ?? '',
      });
      const runtime = buildFetchRuntime(config, options.fetchLogger?.(name));
      const ids = new Set<string>();
      publishedIds.set(name, ids);
      const publisher = runtime.publisher;
      const publish: PublishFn = (topic, messages) => publisher.publish(topic, messages);
      const intercepted = options.interceptPublish?.(name, publish) ?? publish;
      fetchRuntimes.push({
        ...runtime,
        newReader: () => {
          const reader = runtime.newReader();
          latestReaders.set(name, reader);
          return reader;
        },
        publisher: {
          publish: async (topic, messages) => {
            await intercepted(topic, messages);
            for (const message of messages) if (message.key !== null) ids.add(message.key);
          },
          disconnect: () => publisher.disconnect(),
        },
      });
    }
  } catch (error) {
    // A bad definition or setting: the runtimes built so far hold connections.
    await Promise.allSettled([
      ...fetchRuntimes.map((runtime) => runtime.close()),
      ...[...extraMocks.values()].map((mock) => mock.close()),
    ]);
    throw error;
  }
  const fetchers = new Map(
    fetchRuntimes.map((runtime) => [runtime.source.name, createFetchHandler(runtime)]),
  );
  // The merge function's environment, as the stack would set it (replay and re-drive read it too).
  const mergeEnvironment: Record<string, string> = {
    ...baseEnv,
    ...pipelineSources,
    REDIS_URL: options.mergeRedisUrl ?? options.redisUrl,
    REDIS_KEY_PREFIX: options.redisKeyPrefix ?? '',
    ANALYTICS_URL: mocks.analytics.url,
    DEAD_LETTER_TARGET: 'kafka',
    ...(options.mapping === 'on-demand' && {
      MERGE_MAPPING_MODE: 'on-demand',
      MERGE_RETRY_ATTEMPTS: String(options.retryAttempts ?? 10),
    }),
  };
  let mergeRuntime: ReturnType<typeof buildMergeRuntime> | undefined;
  try {
    mergeRuntime = buildMergeRuntime(loadMergeConfig(mergeEnvironment), options.mergeLogger, {
      ...(options.interceptMergeCache && { cache: options.interceptMergeCache }),
    });
    await mergeRuntime.ready();
  } catch (error) {
    await Promise.allSettled([
      mergeRuntime?.close(),
      ...fetchRuntimes.map((runtime) => runtime.close()),
      ...[...extraMocks.values()].map((mock) => mock.close()),
    ]);
    throw error;
  }
  return {
    fetchRuntimes,
    fetchers,
    mergeRuntime,
    mergeEnvironment,
    /** Retries of the source's latest fetch invocation so far (0 before the first). */
    latestRetries: (source: string) => latestReaders.get(source)?.retries ?? 0,
    publishedIds,
    join,
    extraMocks,
  };
}
