import { type DeliveryCache, IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import type { Log } from '../../shared/logger.ts';
import { BUILT_IN_JOIN, sourceForTopic } from '../../shared/sources/registry.ts';
import type { MergeDeps } from '../../shared/use-cases/merge-batch.ts';
import {
  MemoryAnalytics,
  MemoryCache,
  MemoryJoinStore,
  MemorySinks,
  memoryLog,
} from './in-memory.ts';

/**
 * The merge's dependencies on in-memory ports, for the use-case tests: the built-in join, an
 * in-memory join store, single-mode delivery (IdempotentDelivery over `cache`, a 60 s
 * invocation, `concurrency` POSTs at once, 2 unless given) to an in-memory Analytics, and one
 * in-memory sink for quarantine and dead letters. `overrides` replaces any of them.
 */
export function memoryMergeDeps(
  { concurrency = 2, ...overrides }: Partial<MergeDeps> & { concurrency?: number } = {},
  cache: DeliveryCache = new MemoryCache(),
) {
  const analytics = new MemoryAnalytics();
  const sinks = new MemorySinks();
  const log = memoryLog();
  const delivery = new IdempotentDelivery({
    cache,
    analytics,
    ttlSeconds: 86_400,
    keyPrefix: 'unit:',
    concurrency,
  });
  delivery.registerInvocation({ getRemainingTimeInMillis: () => 60_000 });
  const deps: MergeDeps = {
    joinStore: new MemoryJoinStore(),
    join: BUILT_IN_JOIN,
    delivery,
    deadLetter: sinks,
    quarantine: sinks,
    log: log as unknown as Log,
    sourceForTopic,
    maxRecordBytes: 2_000,
    ...overrides,
  };
  return { deps, analytics, sinks, log };
}
