/**
 * A record as a source sent it: a JSON object, passed through whole. The pipeline reads a few
 * fields of it (the id, the declared required fields, the change field) and never rewrites it, so
 * every field a source sends reaches Analytics unchanged, types and nesting included.
 */
export type SourceRecord = Record<string, unknown>;

/** The shape of the sample customers the mocks serve (a SourceRecord may hold more). */
export type Customer = SourceRecord & {
  id: string;
  name: string;
  email: string;
  updatedAt: string | null;
};

/** The shape of the sample products the mocks serve (a SourceRecord may hold more). */
export type Product = SourceRecord & {
  id: string;
  name: string;
  stock: number;
  updatedAt: string | null;
};

/** A side of a join, named as it appears in the merged payload (`customer`, `inventory`, …). */
export type Side = string;

/** Types a required field may be declared with; `any` only asks that it is present and not null. */
export const FIELD_TYPES = ['any', 'string', 'number', 'integer', 'boolean', 'object', 'array'];
export type FieldType = 'any' | 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

/** What the pipeline checks in every record of one source (a part of its definition). */
export type RecordRules = {
  /**
   * Where the id is, and whether a JSON integer there is accepted as its decimal string
   * (`string`, the default: 1 and "1" are the same id) or refused (`reject`).
   */
  id: { path: string; numbers: 'reject' | 'string' };
  /** Fields that must be present, not null, and of the declared type. */
  required: readonly { path: string; type: FieldType }[];
  /** The field that says when a record last changed: an ISO-8601 timestamp, or a number. */
  change?: { path: string; kind: 'timestamp' | 'number' } | undefined;
};

/** What the check says about one raw record. `record` is the input itself, not a copy. */
export type RecordCheck =
  | { ok: true; id: string; record: SourceRecord; change: number | null }
  | { ok: false; reason: string; id?: string };

const MAX_ID_LENGTH = 128;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

/** The value at a dotted path (`data.customer.id`), or undefined when any step is missing. */
export function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const step of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[step];
  }
  return current;
}

/**
 * Checks one raw record against a source's rules. Never throws and never changes the record: a
 * record that fails comes back with a reason naming the field (and its id when usable), so it
 * can be quarantined.
 */
export function checkRecord(rules: RecordRules, raw: unknown): RecordCheck {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: `record is ${describe(raw)}, not a JSON object` };
  }
  const id = readId(rules.id, raw);
  if (!id.ok) return id;
  const problems: string[] = [];
  for (const field of rules.required) {
    const problem = fieldTypeProblem(readPath(raw, field.path), field.type);
    if (problem) problems.push(`${field.path}: ${problem}`);
  }
  let change: number | null = null;
  if (rules.change) {
    const read = readChange(rules.change.kind, readPath(raw, rules.change.path));
    if (typeof read === 'string') problems.push(`${rules.change.path}: ${read}`);
    else change = read;
  }
  if (problems.length > 0) {
    return { ok: false, reason: problems.slice(0, 5).join('; '), id: id.id };
  }
  return { ok: true, id: id.id, record: raw as SourceRecord, change };
}

/** The reason a record whose value does not parse as JSON is quarantined with. */
export const NOT_JSON = 'value is not JSON';

/** The reason a record of this many bytes is refused, or undefined when it fits. */
export function sizeProblem(bytes: number, maxBytes: number): string | undefined {
  return bytes > maxBytes ? `record is ${bytes} bytes, over the ${maxBytes}-byte limit` : undefined;
}

function readId(
  rule: RecordRules['id'],
  raw: object,
): { ok: true; id: string } | { ok: false; reason: string } {
  const value = readPath(raw, rule.path);
  if (typeof value === 'number') return numericId(rule, value);
  if (value === undefined || value === null)
    return { ok: false, reason: `${rule.path}: is required` };
  if (typeof value !== 'string' || value.trim() === '') {
    return {
      ok: false,
      reason: `${rule.path}: must be a non-empty string, got ${describe(value)}`,
    };
  }
  if (value.length > MAX_ID_LENGTH) {
    return { ok: false, reason: `${rule.path}: id is longer than ${MAX_ID_LENGTH} characters` };
  }
  return { ok: true, id: value };
}

/**
 * A JSON number id as its decimal string (1 and "1" are the same id), when it is an integer that
 * a double holds exactly; a fraction, or an integer past ±(2^53 - 1) whose digits JSON.parse
 * already rounded, is refused rather than turned into some other id.
 */
function numericId(
  rule: RecordRules['id'],
  value: number,
): { ok: true; id: string } | { ok: false; reason: string } {
  if (rule.numbers === 'reject') {
    return {
      ok: false,
      reason: `${rule.path}: is the number ${value}; this source declares id.numbers "reject" (string ids only)`,
    };
  }
  if (!Number.isInteger(value)) {
    return { ok: false, reason: `${rule.path}: ${value} is not an integer` };
  }
  if (!Number.isSafeInteger(value)) {
    return {
      ok: false,
      reason: `${rule.path}: ${value} is outside the safe integer range (±${Number.MAX_SAFE_INTEGER}), so its digits may have been rounded; send it as a string`,
    };
  }
  return { ok: true, id: String(value) };
}

/** Why a value is not of a declared type ('is required' when absent or null), or undefined. */
export function fieldTypeProblem(value: unknown, type: FieldType): string | undefined {
  if (value === undefined || value === null) return 'is required';
  const wrong = `must be ${type === 'integer' || type === 'array' || type === 'object' ? 'an' : 'a'} ${type}, got ${describe(value)}`;
  switch (type) {
    case 'any':
      return undefined;
    case 'string':
      return typeof value !== 'string' ? wrong : value === '' ? 'must not be empty' : undefined;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : wrong;
    case 'integer':
      return Number.isSafeInteger(value) ? undefined : wrong;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : wrong;
    case 'array':
      return Array.isArray(value) ? undefined : wrong;
    case 'object':
      return typeof value === 'object' && !Array.isArray(value) ? undefined : wrong;
  }
}

/**
 * A change value as a number that orders versions (milliseconds for timestamps), null when the
 * record has none, or a string saying why it cannot be read.
 */
function readChange(kind: 'timestamp' | 'number', value: unknown): number | null | string {
  if (value === undefined || value === null) return null;
  if (kind === 'number') {
    return typeof value === 'number' && Number.isFinite(value)
      ? value
      : `must be a number, got ${describe(value)}`;
  }
  const ms = typeof value === 'string' && ISO_DATE.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(ms) ? `must be an ISO-8601 timestamp, got ${describe(value)}` : ms;
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
