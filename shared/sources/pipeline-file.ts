import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { parseSourceDefinitions, type SourceDefinition } from './definition.ts';
import { type JoinDefinition, parseJoinDefinition } from './join.ts';

/**
 * A pipeline definition file: the sources, the join and where they live. `npm run local --
 * --config FILE` and the CDK app (`-c pipeline:config=FILE`) read the same file through this
 * one schema, so a third source is one entry in one file for every target.
 *
 * ```json
 * {"sources": [...], "join": {...}, "analyticsUrl": "https://…",
 *  "baseUrls": {"pricing": "https://pricing.example.com/api"},
 *  "secrets": {"pricing": {"arn": "arn:aws:secretsmanager:…"}, "crm": {"env": "CRM_TOKEN"}}}
 * ```
 */
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** A Secrets Manager secret's ARN, complete or without its six-character suffix. */
export const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;

/** Where a source's credentials are: an environment variable or a file locally, a secret on AWS. */
const secretRef = z.union(
  [
    z.object({ env: z.string().min(1) }).strict(),
    z.object({ file: z.string().min(1) }).strict(),
    z
      .object({
        arn: z.string().regex(SECRET_ARN, 'must be the ARN of a Secrets Manager secret'),
      })
      .strict(),
  ],
  { error: 'must be {"env": NAME}, {"file": PATH} or {"arn": SECRET_ARN}' },
);

const pipelineFileSchema = z
  .object({
    sources: z.unknown().optional(),
    join: z.unknown().optional(),
    analyticsUrl: httpUrl.optional(),
    /** By source name: the base URL its `path` is appended to. */
    baseUrls: z.record(z.string(), httpUrl).optional(),
    /** By source name: where its credentials are. */
    secrets: z.record(z.string(), secretRef).optional(),
  })
  .strict();

export type SecretRef = z.infer<typeof secretRef>;

export type PipelineFile = {
  /** The file's sources, validated; undefined when the file declares none. */
  sources?: SourceDefinition[];
  /** Each source's entry as written, by name (what a function is given as PIPELINE_SOURCES). */
  declared?: Record<string, unknown>;
  /** The join, validated against the sources, and as written (what the functions get). */
  join?: { definition: JoinDefinition; raw: unknown };
  analyticsUrl?: string;
  baseUrls: Record<string, string>;
  secrets: Record<string, SecretRef>;
};

/**
 * Validates a parsed pipeline file. `fallbackSources` are the sources its per-source settings
 * may name when the file declares none (the bundled ones). Throws ConfigError whose message
 * names `origin`, the field and, for per-source settings, the source.
 */
export function parsePipelineFile(
  raw: unknown,
  origin: string,
  fallbackSources: readonly SourceDefinition[],
): PipelineFile {
  const parsed = pipelineFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(file)';
    const message =
      issue?.code === 'unrecognized_keys'
        ? `unknown field ${issue.keys.map((key) => `"${key}"`).join(', ')} (expected sources, join, analyticsUrl, baseUrls, secrets)`
        : (issue?.message ?? 'is not a pipeline definition');
    throw new ConfigError(where, `${origin}: ${where}: ${message}`);
  }
  const file = parsed.data;
  const sources =
    file.sources === undefined
      ? undefined
      : parseSourceDefinitions(file.sources, `${origin}: sources`);
  const known = sources ?? fallbackSources;
  for (const field of ['baseUrls', 'secrets'] as const) {
    for (const name of Object.keys(file[field] ?? {})) {
      if (!known.some((source) => source.name === name))
        throw new ConfigError(
          `${field}.${name}`,
          `${origin}: ${field}.${name}: no source is named "${name}" (sources: ${known.map((s) => s.name).join(', ')})`,
        );
    }
  }
  const join =
    file.join === undefined
      ? undefined
      : { definition: parseJoinDefinition(file.join, known, `${origin}: join`), raw: file.join };
  const declared =
    sources &&
    Object.fromEntries(
      sources.map((source, index) => [source.name, (file.sources as unknown[])[index]]),
    );
  return {
    ...(sources && { sources, declared }),
    ...(join && { join }),
    ...(file.analyticsUrl !== undefined && { analyticsUrl: file.analyticsUrl }),
    baseUrls: file.baseUrls ?? {},
    secrets: file.secrets ?? {},
  };
}

/** Parses the JSON text of a pipeline file; see parsePipelineFile. */
export function parsePipelineFileText(
  text: string,
  origin: string,
  fallbackSources: readonly SourceDefinition[],
): PipelineFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError('(file)', `${origin}: is not JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError('(file)', `${origin}: must be a JSON object with "sources"`);
  return parsePipelineFile(raw, origin, fallbackSources);
}
