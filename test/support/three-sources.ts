import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import type { Log } from '../../shared/logger.ts';
import type { JoinStore, OnceDelivery, PendingIndex } from '../../shared/ports.ts';
import { parseSourceDefinitions } from '../../shared/sources/definition.ts';
import { type JoinDefinitionInput, parseJoinDefinition } from '../../shared/sources/join.ts';
import { sourceForTopic } from '../../shared/sources/registry.ts';
import type { MergeDeps } from '../../shared/use-cases/merge-batch.ts';
import type { SweepDeps } from '../../shared/use-cases/sweep-pending.ts';
import { aDecodedRecord } from './decoded-records.ts';
import { aCustomer, aProduct } from './factories.ts';
import { MemoryAnalytics, MemoryCache, MemorySinks, memoryLog } from './in-memory.ts';

/** Customers, products and prices: the three sources of the example, as definitions. */
export const THREE_SOURCES = parseSourceDefinitions([
  { name: 'crm', side: 'customer', path: '/customers', topic: 'customer_data' },
  { name: 'inventory', side: 'inventory', path: '/products', topic: 'inventory_data' },
  {
    name: 'pricing',
    side: 'price',
    path: '/prices',
    topic: 'pricing_data',
    change: { path: 'version', kind: 'number' },
  },
]);

export const aPrice = (id: string, amount = 10, version?: number) => ({
  id,
  amount,
  currency: 'EUR',
  ...(version !== undefined && { version }),
});

/** A record of one of the three sources, as the merge decodes it. */
export function aThreeSidedRecord(side: 'customer' | 'inventory' | 'price', id: string) {
  const [topic, value] =
    side === 'customer'
      ? ['customer_data', aCustomer(id)]
      : side === 'inventory'
        ? ['inventory_data', aProduct(id)]
        : ['pricing_data', aPrice(id)];
  return aDecodedRecord(topic as string, value);
}

/** Merge and sweeper dependencies over one store and one delivery, as production wires them. */
export function threeSidedDeps(
  join: JoinDefinitionInput,
  store: JoinStore & PendingIndex,
  clock: { now: number },
  delivery?: OnceDelivery,
) {
  const analytics = new MemoryAnalytics();
  const sinks = new MemorySinks();
  const definition = parseJoinDefinition(join, THREE_SOURCES);
  const once =
    delivery ??
    new IdempotentDelivery({
      cache: new MemoryCache(),
      analytics,
      ttlSeconds: 86_400,
      keyPrefix: 'u:',
      concurrency: 4,
    });
  if (once instanceof IdempotentDelivery) {
    once.registerInvocation({ getRemainingTimeInMillis: () => 60_000 });
  }
  const log = memoryLog() as unknown as Log;
  const merge: MergeDeps = {
    joinStore: store,
    join: definition,
    delivery: once,
    deadLetter: sinks,
    quarantine: sinks,
    log,
    sourceForTopic: (topic) => sourceForTopic(topic, THREE_SOURCES),
    maxRecordBytes: 10_000,
  };
  const sweep: SweepDeps = {
    pending: store,
    delivery: once,
    deadLetter: sinks,
    join: definition,
    log,
    now: () => clock.now,
    limit: 100,
    concurrency: 4,
  };
  return { analytics, sinks, merge, sweep, join: definition };
}
