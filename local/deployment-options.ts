import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, MSKEvent } from 'aws-lambda';
import type { MergeResult } from '../functions/merge/handler.ts';
import type { IoRedisCacheClient } from '../shared/adapters/idempotency-cache.ts';
import type { Publisher } from '../shared/ports.ts';
import type { SourceDefinition } from '../shared/sources/definition.ts';
import type { FaultRates } from './mocks/faults.ts';

/**
 * The options of a local deployment, in a module of their own so that the deployment and the
 * wiring of its handlers both read them, neither from the other.
 */
export type LocalDeploymentOptions = {
  brokers: string;
  redisUrl: string;
  /** The same Redis, as the merge reaches it, when that differs (a proxy, for fault injection). */
  mergeRedisUrl?: string;
  /** The same Redis, as the fetch functions reach it (their sync state), when that differs. */
  fetchRedisUrl?: string;
  /** Prefix of every topic name, so runs and tests do not see each other's records. */
  topicPrefix?: string;
  /** Prefix of every Redis key (join state, idempotency records, the sources' sync state). */
  redisKeyPrefix?: string;
  records?: number;
  pageSize?: number;
  /** Largest MSK batch the emulated event source mapping hands the merge function. */
  batchSize?: number;
  /**
   * Retries of a failing merge batch before the emulated mapping hands it to failed_<topic> and
   * moves on (the stack's mergeRetryAttempts; default 10).
   */
  retryAttempts?: number;
  /**
   * How the emulated mappings run (default `provisioned`). `on-demand` emulates a mapping
   * without provisioned pollers and sets the merge's MERGE_MAPPING_MODE to match, with
   * MERGE_RETRY_ATTEMPTS from retryAttempts.
   */
  mapping?: 'provisioned' | 'on-demand';
  partitions?: number;
  sourceFaults?: Partial<FaultRates>;
  analyticsFaults?: Partial<FaultRates>;
  /**
   * Seeds the mocks' random faults: each mock's seed is derived from it, so the same seed gives
   * the same faults. Unset, each mock keeps its fixed seed (the fault suite's and the tests').
   */
  faultSeed?: number;
  /** Whether the Analytics mock honours Idempotency-Key (default true, as a payment API does). */
  analyticsHonoursIdempotencyKey?: boolean;
  onAnalyticsReceive?: (payload: unknown) => void;
  onMergeFailure?: (error: unknown, attempt: number) => void;
  /** Extra settings for the functions (LOG_LEVEL, HTTP_MAX_ATTEMPTS, …), as environment values. */
  settings?: Record<string, string>;
  /** Wraps a fetch function's publish to its topic, by source name (fault injection). */
  interceptPublish?: (source: string, publish: PublishFn) => PublishFn;
  /** Wraps the merge handler as the emulated event source mapping calls it (fault injection). */
  interceptMerge?: (merge: MergeHandler) => MergeHandler;
  /**
   * Wraps the Redis client the merge's idempotency records go through (fault injection: a
   * process that dies between the POST and its completed marks).
   */
  interceptMergeCache?: (cache: IoRedisCacheClient) => IoRedisCacheClient;
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
  /** Where the emulated event source mappings' Kafka errors and crashes go (default: stderr). */
  onKafkaError?: (line: string) => void;
  /** The join declaration (a `--config` file's `join`); each source's side, all required, when unset. */
  join?: unknown;
  /** How often the local sweeper applies the missing-side policy (default 5 s). */
  sweepEveryMs?: number;
};

/** The merge handler; a wrapper may pass a Lambda context (its remaining time bounds the claims). */
export type MergeHandler = (event: MSKEvent, context?: Context) => Promise<MergeResult>;
export type PublishFn = Publisher['publish'];
