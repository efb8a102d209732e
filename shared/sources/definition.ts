import { z } from 'zod';
import { FIELD_TYPES, type FieldType } from '../domain/records.ts';
import { ConfigError } from '../errors.ts';
import { SCHEMA_CONTRACTS } from './contract.ts';
import { SIDE_NAME } from './side-name.ts';

/**
 * A source, declared as data: where its list endpoint is, where the records are in an answer,
 * what a record must hold, how to page, how to authenticate and how fast to go. The CDK app and
 * the functions read the same definitions; defaults read the original APIs unchanged (a plain JSON
 * array is one complete page).
 */

const path = z
  .string()
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, 'must be a dotted field path such as data.items');
const param = z.string().regex(/^[A-Za-z0-9_.[\]-]+$/, 'must be a query parameter name');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/**
 * The largest page body read by default: 8 MiB. A page is held as text and then as parsed
 * objects (several times its size), so this stays well under the fetch function's 512 MB.
 */
export const DEFAULT_MAX_PAGE_BYTES = 8 * 1024 * 1024;
/** The highest `maxPageBytes` a definition may ask for (32 MiB; parsed, about 200 MB of heap). */
export const MAX_PAGE_BYTES_CEILING = 32 * 1024 * 1024;

/** `"name"` or `{"path": "stock", "type": "integer"}`; read as the object, so an error names its field. */
const declaredField = z.preprocess(
  (field) => (typeof field === 'string' ? { path: field } : field),
  z.object({
    path,
    type: z.enum(FIELD_TYPES as [FieldType, ...FieldType[]]).default('any'),
  }),
);

const pagination = z.discriminatedUnion('style', [
  /** One request answers every record. */
  z.object({ style: z.literal('none') }),
  /** ?page=N&pageSize=M; the next page number is read at `next`, else a full page asks for N+1. */
  z.object({
    style: z.literal('page'),
    pageParam: param.default('page'),
    sizeParam: param.default('pageSize'),
    firstPage: z.number().int().min(0).default(1),
    next: path.optional(),
    size: z.number().int().min(1).max(10_000).optional(),
  }),
  /** ?offset=N&limit=M; a page shorter than the limit is the last. */
  z.object({
    style: z.literal('offset'),
    offsetParam: param.default('offset'),
    limitParam: param.default('limit'),
    size: z.number().int().min(1).max(10_000).optional(),
  }),
  /** An opaque token in the body (`next`), sent back as `cursorParam`; absent or null ends. */
  z.object({
    style: z.literal('cursor'),
    cursorParam: param.default('cursor'),
    next: path.default('nextCursor'),
    sizeParam: param.optional(),
    size: z.number().int().min(1).max(10_000).optional(),
  }),
  /** RFC 8288 `Link: <…>; rel="next"`, followed on the same host only. */
  z.object({
    style: z.literal('link'),
    sizeParam: param.optional(),
    size: z.number().int().min(1).max(10_000).optional(),
  }),
]);

const auth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  /** `Authorization: Bearer <token>`; the secret holds {"token": …} or the token itself. */
  z.object({ type: z.literal('bearer') }),
  /** The secret's token in a named header or query parameter. */
  z.object({
    type: z.literal('apiKey'),
    in: z.enum(['header', 'query']),
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be a header or parameter name'),
  }),
  /** HTTP basic; the secret holds {"username": …, "password": …}. */
  z.object({ type: z.literal('basic') }),
  /** OAuth2 client credentials; the secret holds {"clientId": …, "clientSecret": …}. */
  z.object({
    type: z.literal('oauth2'),
    tokenUrl: httpUrl,
    scope: z.string().optional(),
  }),
]);

const sourceDefinitionSchema = z
  .object({
    /** Used in config (SOURCE=…), logs, metrics, resource names and state keys. */
    name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'must be lower-case letters, digits, dashes'),
    /** Side of the merged payload the records fill (the join may rename it). */
    side: z
      .string()
      .regex(SIDE_NAME, 'must be a name such as customer (letters, digits, _)')
      .optional(),
    /** Topic the records go to; one topic per source. */
    topic: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only')
      .optional(),
    /** The list endpoint: a full URL, or a path under the base URL the deployment sets. */
    url: httpUrl.optional(),
    path: z.string().startsWith('/', 'must start with /').optional(),
    /** Where the records are: absent when the body is the array, else a field path. */
    records: path.optional(),
    /** Where the total count is, when the source says (a mismatch is logged). */
    total: path.optional(),
    /**
     * Where the id is. `numbers: "string"` (the default) takes a JSON integer id in the safe range
     * as its decimal string, so 1 and "1" are the same id; `"reject"` quarantines number ids.
     */
    id: z
      .object({ path: path.default('id'), numbers: z.enum(['reject', 'string']).default('string') })
      .default({ path: 'id', numbers: 'string' }),
    required: z.array(declaredField).default([]),
    /** Optional fields: may be absent or null; when present, of the declared type (`any` by default). */
    fields: z.array(declaredField).default([]),
    /** What happens to a record with a field not declared here (or a declared field retyped). */
    contract: z.enum(SCHEMA_CONTRACTS).default('evolve'),
    /** The largest page body read, in bytes; a larger answer fails the run, read no further. */
    maxPageBytes: z
      .number()
      .int()
      .min(1024)
      .max(MAX_PAGE_BYTES_CEILING)
      .default(DEFAULT_MAX_PAGE_BYTES),
    /** The field that says when a record changed; with `param`, runs after the first are incremental. */
    change: z
      .object({
        path,
        kind: z.enum(['timestamp', 'number']).default('timestamp'),
        /** Query parameter that asks the source for records changed since a value. */
        param: param.optional(),
        /** How far before the saved cursor the next run starts (seconds, or units of a number). */
        overlap: z.number().min(0).default(60),
      })
      .optional(),
    /**
     * A cursor the API keeps: a token in the run's last page (`path`, read from any page that has
     * it, the last one winning), sent back as `param` on the next run, which then lists only what
     * changed. Saved only after every page of the run is published. Instead of `change.param`.
     */
    syncToken: z.object({ path, param }).optional(),
    pagination: pagination.default({ style: 'none' }),
    auth: auth.default({ type: 'none' }),
    /** Requests per second this source accepts; Retry-After is honoured on top. */
    rateLimit: z.number().positive().max(10_000).optional(),
  })
  .refine((source) => source.url !== undefined || source.path !== undefined, {
    path: ['url'],
    message: 'is required (a full URL), or a path under the deployment base URL',
  })
  .refine((source) => !(source.syncToken && source.change?.param), {
    path: ['syncToken'],
    message:
      "cannot be declared with change.param: a source keeps one cursor, the API's token or the highest change value",
  })
  .refine(
    (source) =>
      !source.syncToken ||
      !(
        source.pagination.style === 'cursor' &&
        source.pagination.cursorParam === source.syncToken.param
      ),
    {
      path: ['syncToken', 'param'],
      message: 'is the pagination cursorParam too; they must differ',
    },
  );

/** A validated definition, defaults applied. */
export type SourceDefinition = z.output<typeof sourceDefinitionSchema> & { topic: string };
export type SourceAuth = SourceDefinition['auth'];

/**
 * Validates source definitions. Throws ConfigError naming the source and the field at fault
 * (`sources.crm.pagination.style …`); names and topics must be unique.
 */
export function parseSourceDefinitions(raw: unknown, origin = 'sources'): SourceDefinition[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new ConfigError(origin, `${origin} must be a non-empty array of source definitions`);
  }
  const sources = raw.map((entry, index) => {
    const label =
      typeof entry === 'object' && entry !== null && typeof entry.name === 'string'
        ? entry.name
        : String(index);
    const parsed = sourceDefinitionSchema.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || '(definition)';
      const message =
        issue?.code === 'invalid_type' && issue.input === undefined
          ? 'is required'
          : (issue?.message ?? 'is invalid');
      throw new ConfigError(
        `${origin}.${label}.${field}`,
        `source "${label}": ${field} ${message}`,
      );
    }
    return { ...parsed.data, topic: parsed.data.topic ?? `${parsed.data.name}_data` };
  });
  for (const key of ['name', 'topic'] as const) {
    const seen = new Set<string>();
    for (const source of sources) {
      if (seen.has(source[key])) {
        throw new ConfigError(
          `${origin}.${source.name}.${key}`,
          `source "${source.name}": ${key} "${source[key]}" is used by two sources`,
        );
      }
      seen.add(source[key]);
    }
  }
  return sources;
}

/** The page size a source asks for: its own, else the deployment's default. */
export function pageSizeOf(source: SourceDefinition, fallback: number): number {
  return 'size' in source.pagination && source.pagination.size !== undefined
    ? source.pagination.size
    : fallback;
}
