import {
  type FieldType,
  fieldTypeProblem,
  readPath,
  type SourceRecord,
} from '../domain/records.ts';

/**
 * What a source's schema contract does with a record that does not match its declaration:
 * - `evolve` (the default): passes it whole; each undeclared field is reported on first sighting.
 * - `freeze`: quarantines it, the reason naming the undeclared or retyped fields; logged as an error.
 * - `discard_row`: the same row goes to quarantine with the same reason, logged as a warning
 *   (the row is discarded from the stream, never silently: quarantine keeps it).
 * - `discard_value`: publishes it without the undeclared fields and the retyped declared values;
 *   what is removed is counted and logged on first sighting.
 */
export const SCHEMA_CONTRACTS = ['evolve', 'freeze', 'discard_row', 'discard_value'] as const;
export type SchemaContract = (typeof SCHEMA_CONTRACTS)[number];

type DeclaredField = { path: string; type: FieldType };

/** The parts of a source definition a contract reads. */
export type ContractRules = {
  contract: SchemaContract;
  id: { path: string };
  required: readonly DeclaredField[];
  /** Optional fields: may be absent or null; when present, of the declared type. */
  fields: readonly DeclaredField[];
  change?: { path: string } | undefined;
};

export type ContractCheck =
  | {
      ok: true;
      /** The record to publish: the input itself, or a copy without the discarded values. */
      record: SourceRecord;
      /** Top-level fields the source has not declared, as the record holds them. */
      undeclared: string[];
      /** Field paths whose values were removed (discard_value only). */
      discarded: string[];
    }
  | { ok: false; reason: string };

/**
 * The top-level field names a source declares: the first step of the id path, of every required
 * and optional field path, and of the change path. Declaring `address.city` declares `address`.
 */
export function declaredNames(rules: ContractRules): Set<string> {
  const paths = [
    rules.id.path,
    ...rules.required.map((field) => field.path),
    ...rules.fields.map((field) => field.path),
    ...(rules.change ? [rules.change.path] : []),
  ];
  return new Set(paths.map((path) => path.split('.')[0] as string));
}

/**
 * Applies the contract to a record that passed the record check (id, required fields, change
 * value). Pure; never changes its input. Under `evolve` everything passes; under `freeze` and
 * `discard_row` a record with an undeclared top-level field, or an optional declared field of
 * another type, fails with a reason naming them; under `discard_value` those values are removed.
 */
export function applyContract(
  rules: ContractRules,
  record: SourceRecord,
  declared: ReadonlySet<string> = declaredNames(rules),
): ContractCheck {
  const undeclared = Object.keys(record).filter((name) => !declared.has(name));
  if (rules.contract === 'evolve') return { ok: true, record, undeclared, discarded: [] };
  const retyped: { path: string; problem: string }[] = [];
  for (const field of rules.fields) {
    const value = readPath(record, field.path);
    if (value === undefined || value === null) continue;
    const problem = fieldTypeProblem(value, field.type);
    if (problem) retyped.push({ path: field.path, problem });
  }
  if (undeclared.length === 0 && retyped.length === 0) {
    return { ok: true, record, undeclared, discarded: [] };
  }
  if (rules.contract === 'discard_value') {
    const copy = structuredClone(record);
    for (const name of undeclared) delete copy[name];
    for (const { path } of retyped) deletePath(copy, path);
    return {
      ok: true,
      record: copy,
      undeclared,
      discarded: [...undeclared, ...retyped.map((f) => f.path)],
    };
  }
  const problems = [
    ...(undeclared.length > 0
      ? [
          `undeclared field${undeclared.length > 1 ? 's' : ''} ${undeclared.slice(0, 10).join(', ')}`,
        ]
      : []),
    ...retyped.slice(0, 5).map(({ path, problem }) => `${path}: declared ${problem}`),
  ];
  return { ok: false, reason: `contract ${rules.contract}: ${problems.join('; ')}` };
}

function deletePath(record: SourceRecord, path: string): void {
  const steps = path.split('.');
  const last = steps.pop() as string;
  let current: unknown = record;
  for (const step of steps) {
    if (typeof current !== 'object' || current === null) return;
    current = (current as Record<string, unknown>)[step];
  }
  if (typeof current === 'object' && current !== null) {
    delete (current as Record<string, unknown>)[last];
  }
}

/** Most field names remembered per source: a source that invents names per record stays bounded. */
const MAX_REMEMBERED = 10_000;

/**
 * The fields each source has been seen to send, so a new one is reported once, not per record.
 * It lives as long as its owner: the fetch runtime keeps one per container (a warm function
 * instance, or the local runtime), so "first" means first since that container started; a new
 * container reports again. Bounded: past MAX_REMEMBERED names a source's names are all "seen".
 */
export class FieldSightings {
  readonly #seen = new Map<string, Set<string>>();

  /** The names among `fields` not seen before for this source; they are remembered now. */
  firstSightings(source: string, fields: readonly string[]): string[] {
    if (fields.length === 0) return [];
    let seen = this.#seen.get(source);
    if (!seen) {
      seen = new Set();
      this.#seen.set(source, seen);
    }
    const fresh: string[] = [];
    for (const field of fields) {
      if (seen.has(field) || seen.size >= MAX_REMEMBERED) continue;
      seen.add(field);
      fresh.push(field);
    }
    return fresh;
  }
}
