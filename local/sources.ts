import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseSourceDefinitions, type SourceDefinition } from '../shared/sources/definition.ts';
import { parsePipelineFileText } from '../shared/sources/pipeline-file.ts';
import { BUILT_IN_SOURCES, SOURCES } from '../shared/sources/registry.ts';
import type { LocalDeploymentOptions } from './deployment.ts';
import { sampleCustomers, sampleProducts } from './mocks/dataset.ts';
import {
  definitionFor,
  MOCK_CREDENTIALS,
  type MockAuth,
  type MockPaging,
  StyledSourceMock,
} from './mocks/styled-source.ts';

export const PAGING_STYLES: MockPaging[] = ['none', 'page', 'offset', 'cursor', 'link'];
export const AUTH_TYPES: MockAuth[] = [
  'none',
  'bearer',
  'apiKeyHeader',
  'apiKeyQuery',
  'basic',
  'oauth2',
];

export type SourceFlags = {
  crmUrl?: string | undefined;
  inventoryUrl?: string | undefined;
  analyticsUrl?: string | undefined;
  config?: string | undefined;
  sourceStyle?: MockPaging | undefined;
  sourceAuth?: MockAuth | undefined;
  /** The styled mocks keep a sync token (page or cursor paging). */
  sourceSyncToken?: boolean | undefined;
  records: number;
};

/**
 * Turns the source flags into pipeline options: a `--config` file's definitions and secrets,
 * `--crm-url`/`--inventory-url`/`--analytics-url` servers the user runs, or styled mocks
 * (`--source-style`, `--source-auth`). Throws an Error naming the flag, file or source at fault.
 */
export async function localSources(flags: SourceFlags): Promise<{
  options: Partial<LocalDeploymentOptions>;
  mocks: StyledSourceMock[];
  lines: string[];
}> {
  const options: Partial<LocalDeploymentOptions> = {};
  const lines: string[] = [];
  const mocks: StyledSourceMock[] = [];
  if (flags.config) {
    // The same file and schema `cdk synth -c pipeline:config=FILE` reads.
    const file = parsePipelineFileText(
      await readPipelineFile(flags.config),
      `--config ${flags.config}`,
      BUILT_IN_SOURCES,
    );
    options.sources = file.sources ?? [...BUILT_IN_SOURCES];
    if (file.analyticsUrl !== undefined) options.analyticsUrl = file.analyticsUrl;
    if (file.join !== undefined) options.join = file.join.raw;
    options.sourceSettings = {};
    for (const [name, ref] of Object.entries(file.secrets)) {
      if ('env' in ref) {
        const value = process.env[ref.env];
        if (!value) throw new Error(`${flags.config}: secrets.${name}: ${ref.env} is not set`);
        options.sourceSettings[name] = { SOURCE_SECRET: value };
      } else if ('file' in ref) {
        options.sourceSettings[name] = { SOURCE_SECRET_FILE: resolve(ref.file) };
      } else {
        throw new Error(
          `${flags.config}: secrets.${name}: {"arn": …} names a Secrets Manager secret for AWS; locally give {"env": NAME} or {"file": PATH}`,
        );
      }
    }
    // The file's baseUrls place the sources on AWS; here the mocks stand in for them (a
    // definition's own url, or --crm-url/--inventory-url, names a server to read instead).

    lines.push(`Sources from ${flags.config}: ${options.sources.map((s) => s.name).join(', ')}`);
  } else if (flags.sourceStyle || flags.sourceAuth || flags.sourceSyncToken) {
    const paging = flags.sourceStyle ?? 'page';
    const auth = flags.sourceAuth ?? 'none';
    const token = flags.sourceSyncToken ? { syncTokenParam: 'syncToken' } : {};
    // The mock's token is the newest change it holds: records need a change time for one.
    const stamped = (records: Record<string, unknown>[]) =>
      flags.sourceSyncToken
        ? records.map((record) => ({ ...record, updatedAt: '2025-01-01T00:00:00.000Z' }))
        : records;
    const styled = async (base: SourceDefinition, records: Record<string, unknown>[]) => {
      const mock = await new StyledSourceMock({
        paging,
        auth,
        records: stamped(records),
        ...token,
      }).start();
      mocks.push(mock);
      const { url, records: at, pagination, auth: declared, syncToken } = definitionFor(mock);
      return {
        ...base,
        url,
        records: at,
        pagination,
        auth: declared,
        ...(syncToken && { syncToken }),
      };
    };
    options.sources = parseSourceDefinitions([
      await styled(SOURCES.crm, sampleCustomers(flags.records)),
      await styled(SOURCES.inventory, sampleProducts(flags.records)),
    ]);
    const secret = { SOURCE_SECRET: JSON.stringify(MOCK_CREDENTIALS) };
    options.sourceSettings = { crm: secret, inventory: secret };
    lines.push(
      `Mock sources paged by ${paging}, auth ${auth}${flags.sourceSyncToken ? ', with a sync token' : ''}: ${mocks.map((m) => m.url).join('  ')}`,
    );
  }
  const urls: Record<string, string> = {};
  if (flags.crmUrl) urls.crm = httpUrl('crm-url', flags.crmUrl);
  if (flags.inventoryUrl) urls.inventory = httpUrl('inventory-url', flags.inventoryUrl);
  if (Object.keys(urls).length > 0) options.sourceUrls = urls;
  if (flags.analyticsUrl) options.analyticsUrl = flags.analyticsUrl;
  if (options.analyticsUrl) httpUrl('analytics-url', options.analyticsUrl);
  for (const [name, url] of Object.entries(urls)) lines.push(`Source ${name}: ${url}`);
  if (options.analyticsUrl) lines.push(`Analytics: ${options.analyticsUrl}`);
  return { options, mocks, lines };
}

function httpUrl(flag: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol)) {
    throw new Error(`--${flag} must be an http(s) URL, got "${value}"`);
  }
  return value;
}

async function readPipelineFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`--config ${path}: ${(error as Error).message}`);
  }
}
