import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localSources } from '../../local/sources.ts';

/** `npm run local -- --config FILE` reads the file `cdk synth -c pipeline:config=FILE` reads. */
describe('a --config file, read locally', () => {
  it('gives the local run the sources and join of the file the CDK app deploys', async () => {
    const { options } = await localSources({ config: 'examples/three-sources.json', records: 5 });
    expect(options.sources?.map((source) => source.name)).toEqual(['crm', 'inventory', 'pricing']);
    expect(options.join).toMatchObject({ sides: { pricing: 'price' } });
  });

  it('refuses a Secrets Manager ARN, which only AWS can read, naming the source', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'local-config-')), 'pipeline.json');
    writeFileSync(
      path,
      JSON.stringify({
        secrets: { crm: { arn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:crm' } },
      }),
    );
    await expect(localSources({ config: path, records: 5 })).rejects.toThrow(
      /secrets\.crm: \{"arn": …\} names a Secrets Manager secret for AWS/,
    );
  });

  it('refuses an unknown field with the fields it expects', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'local-config-')), 'pipeline.json');
    writeFileSync(path, JSON.stringify({ source: [] }));
    await expect(localSources({ config: path, records: 5 })).rejects.toThrow(
      /unknown field "source" \(expected sources, join, analyticsUrl, baseUrls, secrets\)/,
    );
  });
});
