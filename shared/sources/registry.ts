import type { z } from 'zod';
import { customerSchema, productSchema, type Side } from '../domain/records.ts';

/** Kafka topics of the pipeline. The names are fixed by the contract with downstream readers. */
export const TOPICS = {
  customer: 'customer_data',
  inventory: 'inventory_data',
  deadLetter: 'dead_letter',
  quarantine: 'quarantine',
} as const;

/**
 * One source API. Adding a source is one entry here: where to read, what a record must look like,
 * which topic it goes to and which side of the join it fills.
 */
export type SourceDefinition = {
  /** Name used in config (SOURCE=...), logs and metrics. */
  name: string;
  /** Path of the list endpoint, relative to the source's base URL. */
  path: string;
  /** Topic the valid records are published to. */
  topic: string;
  /** Side of the merged payload the records fill. */
  side: Side;
  /** Schema every record must satisfy; invalid records are quarantined with the reason. */
  schema: z.ZodType<{ id: string }>;
  /** Page-number pagination: the query parameters and the body fields that carry it. */
  pagination: { pageParam: string; sizeParam: string; itemsField: string; nextField: string };
};

const pageNumberPagination = {
  pageParam: 'page',
  sizeParam: 'pageSize',
  itemsField: 'items',
  nextField: 'nextPage',
};

export const SOURCES = {
  crm: {
    name: 'crm',
    path: '/customers',
    topic: TOPICS.customer,
    side: 'customer',
    schema: customerSchema,
    pagination: pageNumberPagination,
  },
  inventory: {
    name: 'inventory',
    path: '/products',
    topic: TOPICS.inventory,
    side: 'inventory',
    schema: productSchema,
    pagination: pageNumberPagination,
  },
} as const satisfies Record<string, SourceDefinition>;

export type SourceName = keyof typeof SOURCES;

export const SOURCE_NAMES = Object.keys(SOURCES) as SourceName[];

/** The source whose records arrive on a topic, or undefined for a topic no source writes. */
export function sourceForTopic(topic: string): SourceDefinition | undefined {
  return Object.values(SOURCES).find((source) => source.topic === topic);
}
