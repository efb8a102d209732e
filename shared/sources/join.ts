import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import type { SourceDefinition } from './definition.ts';
import { SIDE_NAME } from './side-name.ts';

/**
 * The join, declared as data next to the sources: which source fills which side of the payload,
 * which sides must be present before a payload goes out, what the payload looks like, and what
 * happens to an id whose other sides never come. The key is each source's id (its `id.path`).
 */

const sideName = z
  .string()
  .regex(SIDE_NAME, 'must be a name such as customer (letters, digits, _)');

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of `500ms`, `30s`, `10m`, `2h`, `7d`; undefined when it does not parse. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** What happens to an id some required side of which has not arrived. */
export type MissingSidePolicy =
  | { policy: 'wait' }
  /** Deliver with the missing sides null after `afterMs`, then again as the sides arrive. */
  | { policy: 'emit'; afterMs: number }
  /** Forget the half after `afterMs`, and count it. */
  | { policy: 'drop'; afterMs: number };

const missingPolicy = z.string().transform((text, context): MissingSidePolicy => {
  const trimmed = text.trim();
  if (trimmed === 'wait') return { policy: 'wait' };
  const match = /^(emit|drop) after (.+)$/.exec(trimmed);
  const afterMs = match?.[2] !== undefined ? parseDuration(match[2]) : undefined;
  if (!match || afterMs === undefined || afterMs <= 0) {
    context.addIssue({
      code: 'custom',
      message: `must be "wait", "emit after <duration>" or "drop after <duration>" (durations like 30s, 10m, 1h, 7d), got "${text}"`,
    });
    return z.NEVER;
  }
  return { policy: match[1] as 'emit' | 'drop', afterMs };
});

const joinDefinitionSchema = z.object({
  /** Used in metric dimensions and Redis keys. */
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,30}$/, 'must be lower-case letters, digits, dashes')
    .default('main'),
  /** The payload field that carries the key (with the `keyed` payload). */
  key: z.string().regex(SIDE_NAME, 'must be a field name such as id').default('id'),
  /** Source name -> side name in the payload; by default each source's `side`. */
  sides: z.record(z.string(), sideName).optional(),
  /** Sides that must all be present before a payload goes out; by default all but `optional`. */
  required: z.array(sideName).optional(),
  /** Sides included when present; the payload goes out again when one arrives or changes. */
  optional: z.array(sideName).default([]),
  /** `keyed`: {id, customer, inventory}; `sides`: {customer, inventory} (the original system). */
  payload: z.enum(['keyed', 'sides']).default('keyed'),
  missing: missingPolicy.default({ policy: 'wait' }),
});

export type JoinDefinitionInput = z.input<typeof joinDefinitionSchema>;

/** A validated join: sides resolved against the sources, in the order the sources are declared. */
export type JoinDefinition = {
  name: string;
  key: string;
  /** Side name by source name. */
  sideOf: Record<string, string>;
  /** Every side, in source order. */
  sides: string[];
  required: string[];
  optional: string[];
  payload: 'keyed' | 'sides';
  missing: MissingSidePolicy;
};

/**
 * Validates a join against the sources it joins. Throws ConfigError naming the field at fault
 * (`join.required …`): every source fills exactly one side, two or more sides, side names
 * unique, at least one required side, every named side declared.
 */
export function parseJoinDefinition(
  raw: unknown,
  sources: readonly SourceDefinition[],
  origin = 'join',
): JoinDefinition {
  const parsed = joinDefinitionSchema.safeParse(raw ?? {});
  const fail = (field: string, message: string): never => {
    throw new ConfigError(`${origin}.${field}`, `${origin}: ${field} ${message}`);
  };
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(issue?.path.join('.') || '(definition)', issue?.message ?? 'is invalid');
  }
  const join = parsed.data as z.output<typeof joinDefinitionSchema>;
  const names = new Set(sources.map((source) => source.name));
  for (const source of Object.keys(join.sides ?? {})) {
    if (!names.has(source))
      fail(`sides.${source}`, `names no source (sources: ${[...names].join(', ')})`);
  }
  const sideOf: Record<string, string> = {};
  for (const source of sources) {
    const side = join.sides?.[source.name] ?? source.side;
    if (side === undefined) fail(`sides.${source.name}`, 'is required: every source fills a side');
    sideOf[source.name] = side as string;
  }
  const sides = Object.values(sideOf);
  const seen = new Set<string>();
  for (const side of sides) {
    if (seen.has(side)) fail('sides', `name "${side}" for two sources; each side has one source`);
    seen.add(side);
  }
  if (sides.length < 2) fail('sides', `must name two or more sides, got ${sides.length}`);
  if (seen.has(join.key) && join.payload === 'keyed') {
    fail('key', `"${join.key}" is also a side name; the keyed payload needs them apart`);
  }
  for (const [field, list] of [
    ['optional', join.optional],
    ['required', join.required ?? []],
  ] as const) {
    for (const side of list) {
      if (!seen.has(side))
        fail(field, `names "${side}", which is not a side (sides: ${sides.join(', ')})`);
    }
  }
  const optional = sides.filter((side) => join.optional.includes(side));
  const required = join.required
    ? sides.filter((side) => join.required?.includes(side))
    : sides.filter((side) => !optional.includes(side));
  const both = required.find((side) => optional.includes(side));
  if (both !== undefined) fail('optional', `names "${both}", which is also required`);
  if (required.length === 0) fail('required', 'must name at least one side');
  const unplaced = sides.find((side) => !required.includes(side) && !optional.includes(side));
  if (unplaced !== undefined)
    fail('required', `leaves side "${unplaced}" neither required nor optional`);
  return {
    name: join.name,
    key: join.key,
    sideOf,
    sides,
    required,
    optional,
    payload: join.payload,
    missing: join.missing,
  };
}

/** The join of a deployment with no declaration: each source's side, all required, wait. */
export function defaultJoin(sources: readonly SourceDefinition[]): JoinDefinition {
  return parseJoinDefinition({}, sources);
}
