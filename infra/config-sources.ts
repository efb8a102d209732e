import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isHttpUrl } from '../shared/config.ts';
import type { SourceDefinition } from '../shared/sources/definition.ts';
import type { JoinDefinition } from '../shared/sources/join.ts';
import { parsePipelineFileText, SECRET_ARN } from '../shared/sources/pipeline-file.ts';
import { BUILT_IN_SOURCES } from '../shared/sources/registry.ts';

/** What the stack builds per source, and the definitions the functions are given. */
export type DeploySources = {
  /** The deployment's sources: the bundled ones, or those of `pipeline:config`. */
  sources: SourceDefinition[];
  /**
   * Each source's entry as written in the file, by name, for PIPELINE_SOURCES of the functions
   * (sourcesJson picks them); undefined for the bundled ones, which the functions carry.
   */
  declared?: Record<string, unknown>;
  /** Base URL of each source's API, by source name (SOURCE_BASE_URL). */
  sourceBaseUrls: Record<string, string>;
  /** Existing secrets of the sources whose definitions declare auth, by source name. */
  sourceSecretArns: Record<string, string>;
};

/** What else the file says: its join (as validated and as written) and the Analytics URL. */
export type FileSettings = {
  fileJoin?: { definition: JoinDefinition; raw: unknown };
  fileAnalyticsUrl?: string;
};

/** Per-source context keys: `pipeline:<source>BaseUrl`, `pipeline:<source>SecretArn`. */
const PER_SOURCE_KEY = /^pipeline:(.+)(BaseUrl|SecretArn)$/;

/**
 * The sources of a deployment and where each lives. `pipeline:config=<file>` names a pipeline
 * definition file (shared/sources/pipeline-file.ts, the format `npm run local -- --config`
 * reads); its `baseUrls` and `secrets` ({"arn": …}) place each source, and
 * `pipeline:<source>BaseUrl` / `pipeline:<source>SecretArn` override them. `defaults` are the
 * base URLs used when neither gives one (the example hosts, or the compose mocks).
 * Throws an Error naming the context key, or the file, source and field at fault.
 */
export function deploySources(
  get: (key: string) => unknown,
  contextKeys: readonly string[],
  defaults: Record<string, string>,
): DeploySources & FileSettings {
  const path = get('pipeline:config');
  const file =
    path === undefined
      ? undefined
      : parsePipelineFileText(readConfig(path), String(path), BUILT_IN_SOURCES);
  const sources = file?.sources ?? [...BUILT_IN_SOURCES];
  const names = new Set(sources.map((source) => source.name));
  for (const key of contextKeys) {
    const source = PER_SOURCE_KEY.exec(key)?.[1];
    if (source !== undefined && !names.has(source) && key !== 'pipeline:analyticsTokenSecretArn')
      throw new Error(
        `context ${key}: no source is named "${source}" (sources: ${[...names].join(', ')})`,
      );
  }
  const sourceBaseUrls: Record<string, string> = {};
  const sourceSecretArns: Record<string, string> = {};
  for (const source of sources) {
    const urlKey = `pipeline:${source.name}BaseUrl`;
    const url = get(urlKey) ?? file?.baseUrls[source.name] ?? defaults[source.name];
    if (url !== undefined) {
      if (typeof url !== 'string' || !isHttpUrl(url))
        throw new Error(
          `source ${source.name}: base URL must be an http(s) URL, got ${String(url)} (${get(urlKey) !== undefined ? `context ${urlKey}` : `${String(path)}: baseUrls.${source.name}`})`,
        );
      sourceBaseUrls[source.name] = url;
    } else if (source.url === undefined) {
      throw new Error(
        `source ${source.name} has no endpoint: declare its "url", or give a base URL for its path ${source.path ?? ''} as baseUrls.${source.name} in ${String(path ?? 'the pipeline:config file')} or -c ${urlKey}=https://…`,
      );
    }
    const arnKey = `pipeline:${source.name}SecretArn`;
    const fileSecret = file?.secrets[source.name];
    const arn = get(arnKey) ?? (fileSecret && 'arn' in fileSecret ? fileSecret.arn : undefined);
    if (arn === undefined) continue;
    if (typeof arn !== 'string' || !SECRET_ARN.test(arn))
      throw new Error(
        `context ${arnKey} must be the ARN of a Secrets Manager secret, got ${String(arn)}`,
      );
    sourceSecretArns[source.name] = arn;
  }
  return {
    sources,
    ...(file?.declared && { declared: file.declared }),
    sourceBaseUrls,
    sourceSecretArns,
    ...(file?.join && { fileJoin: file.join }),
    ...(file?.analyticsUrl !== undefined && { fileAnalyticsUrl: file.analyticsUrl }),
  };
}

function readConfig(path: unknown): string {
  if (typeof path !== 'string' || path === '')
    throw new Error('context pipeline:config must be the path of a pipeline definition file');
  try {
    return readFileSync(resolve(path), 'utf8');
  } catch (error) {
    throw new Error(`context pipeline:config: cannot read ${path} (${(error as Error).message})`);
  }
}

/**
 * PIPELINE_SOURCES for a function that needs `names` (a fetch: its own source; the merge: all),
 * or undefined when the deployment uses the bundled sources.
 */
export function sourcesJson(config: DeploySources, names: readonly string[]): string | undefined {
  const { declared } = config;
  if (!declared) return undefined;
  return JSON.stringify(names.map((name) => declared[name]));
}
