import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { costSection, DEPLOY_DOC } from '../../tools/cost/docs-section.ts';
import { estimateIdle, unclassifiedTypes } from '../../tools/cost/idle.ts';
import { loadPriceBook } from '../../tools/cost/price-book.ts';
import { estimateProfile, PROFILES, renderMarkdown } from '../../tools/cost/report.ts';
import { synthesizeProfiles, synthesizeTemplate } from '../../tools/cost/synth.ts';
import type { CfnTemplate } from '../../tools/cost/template.ts';
import { defaultWorkload } from '../../tools/cost/variable.ts';
import { COST_CONTEXTS } from '../support/cost-fixtures.ts';

const REGIONS = loadPriceBook('us-east-1').data.regions;

// Each context set is synthesized once for the whole file (a synthesis takes seconds).
const synthesized = new Map<string, CfnTemplate>();
function synthesizeOnce(context: Record<string, unknown>): CfnTemplate {
  const key = JSON.stringify(context);
  const template = synthesized.get(key) ?? synthesizeTemplate(context);
  synthesized.set(key, template);
  return template;
}

// Every context set's synthesized template must be priced in full: an unclassified resource
// type, or a priced one without a price in some region, fails here before the estimate goes stale.
describe.each(COST_CONTEXTS)('the $profile template (context $context)', ({ context }) => {
  let template: CfnTemplate;
  beforeAll(() => {
    template = synthesizeOnce(context);
  });

  it('has only resource types that tools/cost/prices.json prices or calls free while idle', () => {
    expect(unclassifiedTypes(template, loadPriceBook('us-east-1'))).toEqual([]);
  });

  it.each(REGIONS)('has a price for every priced resource in %s', (region) => {
    const idle = estimateIdle(template, loadPriceBook(region));
    expect(idle.lines.length).toBeGreaterThan(0);
    expect(idle.total).toBeCloseTo(
      idle.lines.reduce((sum, l) => sum + l.monthly, 0),
      6,
    );
  });
});

describe('docs/deploy.md', () => {
  it('carries the cost section npm run cost -- --update-docs prints for the current templates', () => {
    const prices = loadPriceBook('us-east-1');
    const { templates } = synthesizeProfiles(PROFILES, synthesizeOnce);
    const estimates = templates.map((t) =>
      estimateProfile(t.profile, t.template, prices, defaultWorkload(prices)),
    );
    expect(costSection(readFileSync(DEPLOY_DOC, 'utf8'))).toBe(renderMarkdown(estimates).trim());
  });
});
