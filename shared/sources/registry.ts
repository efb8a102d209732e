import { parseSourceDefinitions, type SourceDefinition } from './definition.ts';
import { defaultJoin, type JoinDefinition } from './join.ts';

export type { SourceDefinition } from './definition.ts';

/** Kafka topics of the pipeline. The names are fixed by the contract with downstream readers. */
export const TOPICS = {
  customer: 'customer_data',
  inventory: 'inventory_data',
  deadLetter: 'dead_letter',
  quarantine: 'quarantine',
} as const;

/**
 * The sources bundled with the functions and read by the CDK app: adding a source is one entry
 * here (or one entry of a `--config` file locally). Both read the original APIs unchanged: a
 * plain JSON array is one complete page; an object is read at `items`, paged by `nextPage`.
 */
const DECLARED = [
  {
    name: 'crm',
    side: 'customer',
    topic: TOPICS.customer,
    path: '/customers',
    records: 'items',
    total: 'total',
    required: [
      { path: 'name', type: 'string' },
      { path: 'email', type: 'string' },
    ],
    change: { path: 'updatedAt' },
    pagination: { style: 'page', next: 'nextPage' },
  },
  {
    name: 'inventory',
    side: 'inventory',
    topic: TOPICS.inventory,
    path: '/products',
    records: 'items',
    total: 'total',
    required: [
      { path: 'name', type: 'string' },
      { path: 'stock', type: 'number' },
    ],
    change: { path: 'updatedAt' },
    pagination: { style: 'page', next: 'nextPage' },
  },
] as const;

const BUILT_IN = parseSourceDefinitions(structuredClone(DECLARED), 'registry');

/** The names of the bundled sources, read off their declarations (no hand-kept union). */
export type SourceName = (typeof DECLARED)[number]['name'];

/** The bundled definitions by name. */
export const SOURCES = Object.fromEntries(
  BUILT_IN.map((source) => [source.name, source]),
) as Record<SourceName, SourceDefinition & { path: string }>;

export const SOURCE_NAMES = BUILT_IN.map((source) => source.name) as SourceName[];

/** The bundled definitions, in order. */
export const BUILT_IN_SOURCES: readonly SourceDefinition[] = BUILT_IN;

/** The bundled join: customer and inventory, both required, `{id, customer, inventory}`, wait. */
export const BUILT_IN_JOIN: JoinDefinition = defaultJoin(BUILT_IN);

/** The source whose records arrive on a topic, or undefined for a topic no source writes. */
export function sourceForTopic(
  topic: string,
  sources: readonly SourceDefinition[] = BUILT_IN,
): SourceDefinition | undefined {
  return sources.find((source) => source.topic === topic);
}
