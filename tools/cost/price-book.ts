import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PipelineError } from '../../shared/errors.ts';

/** Where the one data file of prices, classifications, limits and workload figures lives. */
export const PRICES_FILE = join(import.meta.dirname, 'prices.json');

const sourced = z.object({ value: z.number().nonnegative(), source: z.string().min(1) });

const priceEntry = z
  .object({
    unit: z.string().min(1),
    source: z.string().min(1),
    verification: z.record(z.string(), z.enum(['page', 'secondary', 'not-found'])),
    seenIn: z.string().optional(),
  })
  .catchall(z.union([z.number(), z.string(), z.record(z.string(), z.string())]));

const resourceType = z.discriminatedUnion('idle', [
  z.object({ idle: z.literal('priced'), model: z.string().min(1), why: z.string().optional() }),
  z.object({ idle: z.literal('free'), why: z.string().min(1) }),
]);

const priceBookSchema = z.object({
  readOn: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  listPricesOf: z.string().regex(/^\d{4}-\d{2}$/),
  monthHours: z.number().positive(),
  regions: z.array(z.string()).min(1),
  prices: z.record(z.string(), priceEntry),
  resourceTypes: z.record(z.string(), resourceType),
  functionMetrics: z.object({
    source: z.string(),
    byService: z.record(z.string(), z.number().int().nonnegative()),
  }),
  workload: z.record(z.string(), sourced),
  limits: z.record(z.string(), sourced),
});

export type PriceBookData = z.infer<typeof priceBookSchema>;
export type ResourceTypeClass = z.infer<typeof resourceType>;

/** A price, classification or figure the estimate needs and the data file does not have. */
export class PriceBookError extends PipelineError {
  override readonly name = 'PriceBookError';
}

/** The prices of one region, read from the data file: every look-up names what is missing. */
export class PriceBook {
  constructor(
    readonly data: PriceBookData,
    readonly region: string,
  ) {
    if (!data.regions.includes(region)) {
      throw new PriceBookError(
        `no prices for region ${region}: the data file has ${data.regions.join(', ')}`,
      );
    }
  }

  get monthHours(): number {
    return this.data.monthHours;
  }

  /** The price `key` in this region; throws PriceBookError when the file has none. */
  price(key: string): number {
    const entry = this.data.prices[key];
    const value = entry?.[this.region];
    if (typeof value !== 'number') {
      throw new PriceBookError(`no price "${key}" for ${this.region} in ${PRICES_FILE}`);
    }
    this.read?.add(key);
    return value;
  }

  private read: Set<string> | undefined;

  /** Runs `fn` and says whether every price it read was seen on a page (not `not-found`). */
  traced<T>(fn: () => T): { value: T; verified: boolean } {
    const outer = this.read;
    this.read = new Set();
    try {
      const value = fn();
      const verified = [...this.read].every(
        (key) => this.data.prices[key]?.verification[this.region] !== 'not-found',
      );
      return { value, verified };
    } finally {
      this.read = outer;
    }
  }

  hasPrice(key: string): boolean {
    return typeof this.data.prices[key]?.[this.region] === 'number';
  }

  workload(key: string): number {
    return sourcedValue(this.data.workload, key, 'workload');
  }

  limit(key: string): number {
    return sourcedValue(this.data.limits, key, 'limits');
  }

  /** How a resource type is treated while idle, or undefined when the file does not classify it. */
  classify(type: string): ResourceTypeClass | undefined {
    return this.data.resourceTypes[type];
  }

  /** Custom metrics a function with this POWERTOOLS_SERVICE_NAME writes (`Fetch-*` patterns). */
  metricsOfService(service: string): number {
    const table = this.data.functionMetrics.byService;
    for (const [pattern, count] of Object.entries(table)) {
      const matches = pattern.endsWith('*')
        ? service.startsWith(pattern.slice(0, -1))
        : service === pattern;
      if (matches) return count;
    }
    throw new PriceBookError(
      `function service "${service}" is not in functionMetrics.byService of ${PRICES_FILE}: ` +
        'add how many custom metrics it writes',
    );
  }
}

function sourcedValue(table: Record<string, { value: number }>, key: string, part: string): number {
  const entry = table[key];
  if (!entry) throw new PriceBookError(`no ${part} figure "${key}" in ${PRICES_FILE}`);
  return entry.value;
}

/** Parses the data file's content; throws PriceBookError naming the first bad field. */
export function parsePriceBook(json: unknown): PriceBookData {
  const parsed = priceBookSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PriceBookError(
      `${PRICES_FILE} is malformed at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? ''}`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

export function loadPriceBook(region: string, file = PRICES_FILE): PriceBook {
  return new PriceBook(parsePriceBook(JSON.parse(readFileSync(file, 'utf8'))), region);
}
