import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { configFromContext, placeholderEndpoints } from '../../infra/config.ts';
import { loadFetchConfig } from '../../shared/config.ts';
import { synthesize } from '../support/synth.ts';
import { deployedFunctions } from '../support/template-functions.ts';

/*
 * One definition file drives every target: the file `npm run local -- --config` reads is what
 * `cdk synth -c pipeline:config=<file>` builds from, validated at synth by the same schema.
 */

const EXAMPLE = 'examples/three-sources.json';

/** A pipeline file in a fresh folder, for the refusals below. */
function aPipelineFile(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'pipeline-file-')), 'pipeline.json');
  writeFileSync(path, JSON.stringify(content));
  return path;
}

const context =
  (values: Record<string, unknown>) =>
  (key: string): unknown =>
    values[key];

const pricing = {
  name: 'pricing',
  topic: 'pricing_data',
  path: '/prices',
  required: [{ path: 'amount', type: 'number' }],
};

describe('a third source declared in the pipeline file', () => {
  let template: Template;
  let outdir: string;

  beforeAll(() => {
    ({ template, outdir } = synthesize({
      'pipeline:stage': 'three',
      'pipeline:config': EXAMPLE,
    }));
  });

  it('gets its own fetch function and schedule, like the bundled two', () => {
    const fetches = deployedFunctions(template, outdir).filter((fn) =>
      fn.name.startsWith('Fetch-'),
    );
    expect(fetches.map((fn) => fn.name).sort()).toEqual([
      'Fetch-crm',
      'Fetch-inventory',
      'Fetch-pricing',
    ]);
    // Three fetch schedules and the sweeper's.
    template.resourceCountIs('AWS::Scheduler::Schedule', 4);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Description: 'Fetch pricing every 5 min',
    });
  });

  it('gets its topic and failure topic, and a merge mapping that reads it', () => {
    template.hasResourceProperties('Custom::KafkaTopics', {
      topics: Match.arrayWith([
        { topic: 'pricing_data', numPartitions: 6 },
        { topic: 'failed_pricing_data', numPartitions: 1 },
      ]),
    });
    for (const topic of ['customer_data', 'inventory_data', 'pricing_data'])
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        Topics: [topic],
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: `three-pipeline-merge-${topic}` },
      });
  });

  it('gives the new fetch function its definition and the base URL of the file, as its loader reads them', () => {
    const fetch = deployedFunctions(template, outdir).find((fn) => fn.name === 'Fetch-pricing');
    const env = fetch?.environment ?? {};
    expect(env.SOURCE_BASE_URL).toBe('https://pricing.example.com/api');
    const config = loadFetchConfig({
      ...(Object.fromEntries(
        Object.entries(env).filter(([, value]) => typeof value === 'string'),
      ) as Record<string, string>),
      KAFKA_BROKERS: 'b-1.msk.example:9098',
      REDIS_URL: 'rediss://cache.example:6380',
      AWS_REGION: 'eu-west-1',
    });
    expect(config.endpoint).toBe('https://pricing.example.com/api/prices');
    expect(config.source.required.map((field) => field.path)).toEqual(['amount', 'currency']);
  });

  it('joins the three sides the file declares', () => {
    const merge = deployedFunctions(template, outdir).find((fn) => fn.name === 'Merge');
    expect(JSON.parse(String(merge?.environment.PIPELINE_JOIN))).toMatchObject({
      sides: { pricing: 'price' },
      required: ['customer', 'inventory', 'price'],
    });
    expect(
      (JSON.parse(String(merge?.environment.PIPELINE_SOURCES)) as { name: string }[]).map(
        (source) => source.name,
      ),
    ).toEqual(['crm', 'inventory', 'pricing']);
  });
});

describe('the pipeline file at synth', () => {
  it('lets a per-source context key override the file', () => {
    const config = configFromContext(
      context({
        'pipeline:config': EXAMPLE,
        'pipeline:pricingBaseUrl': 'https://prices.internal.example/v2',
      }),
    );
    expect(config.sourceBaseUrls.pricing).toBe('https://prices.internal.example/v2');
    expect(config.sourceBaseUrls.crm).toBe('https://crm.example.com/api');
  });

  it('takes a source secret from the file as {"arn": …}', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:crm-AbCdEf';
    // No sources in the file: it places the bundled ones.
    const file = aPipelineFile({ secrets: { crm: { arn } } });
    expect(configFromContext(context({ 'pipeline:config': file })).sourceSecretArns).toEqual({
      crm: arn,
    });
  });

  it('names where a placeholder URL was written: a context key, or a source\'s own "url"', () => {
    // The example, with pricing at a full URL of its own instead of a path under a base URL.
    const example = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as {
      sources: Record<string, unknown>[];
      baseUrls: Record<string, string>;
    };
    const { pricing: _pricing, ...baseUrls } = example.baseUrls;
    const file = aPipelineFile({
      ...example,
      sources: example.sources.map(({ path: _path, ...source }) =>
        source.name === 'pricing'
          ? { ...source, url: 'https://prices.example.com/v1' }
          : { ...source, path: _path },
      ),
      baseUrls: {
        ...baseUrls,
        crm: 'https://crm.internal.test',
        inventory: 'https://inv.internal.test',
      },
      analyticsUrl: 'https://analytics.internal.test/analytics',
    });
    expect(placeholderEndpoints(configFromContext(context({ 'pipeline:config': file })))).toEqual([
      'the "url" of source pricing in pipeline:config',
    ]);
    expect(
      placeholderEndpoints(
        configFromContext(context({ 'pipeline:config': EXAMPLE, 'pipeline:target': 'aws' })),
      ),
    ).toContain('pipeline:crmBaseUrl');
  });

  it('refuses a bad base URL, naming the source and the field', () => {
    const file = aPipelineFile({ sources: [pricing], baseUrls: { pricing: 'ftp://prices' } });
    expect(() => configFromContext(context({ 'pipeline:config': file }))).toThrow(
      /baseUrls\.pricing: must be an http\(s\) URL/,
    );
    expect(() =>
      configFromContext(
        context({ 'pipeline:config': EXAMPLE, 'pipeline:pricingBaseUrl': 'not a url' }),
      ),
    ).toThrow(/source pricing: base URL must be an http\(s\) URL.*context pipeline:pricingBaseUrl/);
  });

  it('refuses settings for a source the file does not declare, naming it', () => {
    const file = aPipelineFile({ sources: [pricing], baseUrls: { pricnig: 'https://p.example' } });
    expect(() => configFromContext(context({ 'pipeline:config': file }))).toThrow(
      /baseUrls\.pricnig: no source is named "pricnig" \(sources: pricing\)/,
    );
    expect(() =>
      configFromContext(context({ 'pipeline:crmmBaseUrl': 'https://crm.example' }), [
        'pipeline:crmmBaseUrl',
      ]),
    ).toThrow(/context pipeline:crmmBaseUrl: no source is named "crmm"/);
  });

  it('refuses a source with no endpoint, saying where to give one', () => {
    const file = aPipelineFile({ sources: [pricing] });
    expect(() => configFromContext(context({ 'pipeline:config': file }))).toThrow(
      /source pricing has no endpoint: .*baseUrls\.pricing/,
    );
  });

  it('refuses a definition the functions would refuse, naming the source and field', () => {
    const file = aPipelineFile({
      sources: [{ ...pricing, pagination: { style: 'pages' } }],
      baseUrls: { pricing: 'https://p.example' },
    });
    expect(() => configFromContext(context({ 'pipeline:config': file }))).toThrow(
      /source "pricing": pagination\.style/,
    );
  });

  it('refuses a file it cannot read or parse, naming it', () => {
    expect(() => configFromContext(context({ 'pipeline:config': '/nope/pipeline.json' }))).toThrow(
      /context pipeline:config: cannot read \/nope\/pipeline\.json/,
    );
    const path = join(mkdtempSync(join(tmpdir(), 'pipeline-file-')), 'broken.json');
    writeFileSync(path, '{"sources": [');
    expect(() => configFromContext(context({ 'pipeline:config': path }))).toThrow(
      /broken\.json: is not JSON/,
    );
  });

  it("fails synth, naming the function, when the definitions outgrow Lambda's 4 KB of environment", () => {
    const field = (index: number) => ({ path: `attribute_number_${index}`, type: 'string' });
    const wide = (name: string, side: string) => ({
      name,
      side,
      path: `/${name}`,
      required: Array.from({ length: 40 }, (_, index) => field(index)),
    });
    const file = aPipelineFile({
      sources: [wide('crm', 'customer'), wide('inventory', 'inventory')],
      baseUrls: { crm: 'https://crm.example', inventory: 'https://inventory.example' },
    });
    expect(() => synthesize({ 'pipeline:config': file })).toThrow(
      /Merge\/Function: its environment variables take about \d+ bytes, over Lambda's 4 KB limit/,
    );
  });
});
