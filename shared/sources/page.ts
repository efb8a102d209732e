import type { SourceDefinition } from './registry.ts';

/** One page of a source listing, as the pipeline needs it. */
export type SourcePage = {
  items: unknown[];
  /** The next page number, or null when this is the last page. */
  nextPage: number | null;
  /** The total number of records, when the source says. */
  total?: number;
};

/**
 * Reads a page body in the source's declared pagination shape. Throws an Error naming what is
 * wrong (not JSON, no item list, a bad next-page value); never returns a partial page.
 */
export function parsePage(source: SourceDefinition, body: string): SourcePage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new Error(`body is not JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('body is not a JSON object');
  }
  const fields = parsed as Record<string, unknown>;
  const { itemsField, nextField } = source.pagination;
  const items = fields[itemsField];
  if (!Array.isArray(items)) throw new Error(`field "${itemsField}" is not an array`);
  const next = fields[nextField] ?? null;
  if (next !== null && !(Number.isInteger(next) && (next as number) > 0)) {
    throw new Error(`field "${nextField}" is neither null nor a positive integer`);
  }
  const total = fields.total;
  return {
    items,
    nextPage: next as number | null,
    ...(Number.isInteger(total) ? { total: total as number } : {}),
  };
}
