import { parseArgs } from 'node:util';
import { DEPLOY_DOC, updateDeployDoc } from './docs-section.ts';
import { loadPriceBook } from './price-book.ts';
import { estimateProfile, PROFILES, renderMarkdown, renderText } from './report.ts';
import { synthesizeProfiles } from './synth.ts';
import { type CfnTemplate, readAssembly } from './template.ts';
import { defaultWorkload } from './variable.ts';

const USAGE = `npm run cost -- [--profile small|standard|all] [--region us-east-1|eu-west-1]
                    [--cdk-out <dir>] [--markdown] [--update-docs]
                    [--cpu-per-10k <s>] [--record-bytes <n>]

Prices what the stack costs idle (a 730-hour month) and at 10k, 1M and 100M records an hour.
Without --cdk-out it synthesizes each profile (-c pipeline:profile=<p>) in this process;
with --cdk-out it prices the stack template(s) of that cloud assembly as they are.
--markdown prints the section docs/deploy.md carries; --update-docs writes it there.`;

function main(): void {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string', default: 'all' },
      region: { type: 'string', default: 'us-east-1' },
      'cdk-out': { type: 'string' },
      markdown: { type: 'boolean', default: false },
      'update-docs': { type: 'boolean', default: false },
      'cpu-per-10k': { type: 'string' },
      'record-bytes': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const prices = loadPriceBook(values.region);
  const work = defaultWorkload(prices);
  if (values['cpu-per-10k'])
    work.mergeCpuSecondsPer10k = positive(values['cpu-per-10k'], '--cpu-per-10k');
  if (values['record-bytes']) work.recordBytes = positive(values['record-bytes'], '--record-bytes');

  const templates: Array<{ profile: string; template: CfnTemplate }> = [];
  if (values['cdk-out']) {
    for (const s of readAssembly(values['cdk-out'])) {
      templates.push({
        profile: values.profile === 'all' ? s.stackName : values.profile,
        template: s.template,
      });
    }
  } else {
    const wanted: readonly string[] = values.profile === 'all' ? PROFILES : [values.profile];
    for (const profile of wanted) {
      if (!(PROFILES as readonly string[]).includes(profile)) {
        throw new Error(`--profile must be small, standard or all, not ${profile}`);
      }
    }
    const { templates: synthesized, ignored } = synthesizeProfiles(
      wanted.includes('standard') ? wanted : [...wanted, 'standard'],
    );
    templates.push(...synthesized.filter((t) => wanted.includes(t.profile)));
    for (const profile of ignored) {
      const message = `pipeline:profile=${profile} gives the standard template: this build has no ${profile} profile yet`;
      if (values.profile === profile) throw new Error(message);
      console.error(`warning: ${message}`);
    }
  }
  const estimates = templates.map((t) => estimateProfile(t.profile, t.template, prices, work));
  if (values['update-docs']) {
    const defaults =
      values.region === 'us-east-1' && values.profile === 'all' && !values['cdk-out'];
    if (!defaults || values['cpu-per-10k'] || values['record-bytes']) {
      throw new Error(
        '--update-docs writes the default estimate only: all profiles, us-east-1, no overrides',
      );
    }
    updateDeployDoc(renderMarkdown(estimates));
    console.log(`updated the cost section of ${DEPLOY_DOC}`);
    return;
  }
  console.log(values.markdown ? renderMarkdown(estimates) : estimates.map(renderText).join('\n\n'));
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`${flag} must be a positive number, not "${text}"`);
  return n;
}

try {
  main();
} catch (error) {
  console.error(error instanceof Error ? `cost: ${error.message}` : error);
  process.exitCode = 1;
}
