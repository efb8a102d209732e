import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  COST_BEGIN,
  COST_END,
  costSection,
  withCostSection,
} from '../../tools/cost/docs-section.ts';
import { IDLE_MODELS } from '../../tools/cost/idle.ts';
import { loadPriceBook, PriceBookError, parsePriceBook } from '../../tools/cost/price-book.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const book = loadPriceBook('us-east-1');

describe('tools/cost/prices.json', () => {
  it('has every price in every region, with its unit, page and how it was verified there', () => {
    for (const [key, entry] of Object.entries(book.data.prices)) {
      for (const region of book.data.regions) {
        expect(typeof entry[region], `${key} in ${region}`).toBe('number');
        expect(entry.verification[region], `${key} verification in ${region}`).toBeDefined();
      }
      expect(entry.source).toMatch(/https:\/\//);
    }
  });

  it('names only idle models the tool has', () => {
    for (const [type, cls] of Object.entries(book.data.resourceTypes)) {
      if (cls.idle === 'priced') expect(IDLE_MODELS, type).toContain(cls.model);
    }
  });

  it('counts the custom metrics each function writes as its metrics.ts does', () => {
    // Written only when the event happens (the merge giving a batch up), never while idle.
    const eventOnly = new Set(['FailedBatchRecords']);
    const names = (fn: string) =>
      new Set(
        [
          ...readFileSync(join(ROOT, 'functions', fn, 'metrics.ts'), 'utf8').matchAll(
            /addMetric\('(\w+)'/g,
          ),
        ]
          .map((m) => m[1])
          .filter((name) => !eventOnly.has(name ?? '')),
      ).size;
    expect(book.metricsOfService('Fetch-crm')).toBe(names('fetch'));
    expect(book.metricsOfService('Merge')).toBe(names('merge'));
    expect(book.metricsOfService('Sweep-main')).toBe(names('sweep'));
  });

  it('refuses a region it has no prices for, and a malformed file with the field named', () => {
    expect(() => loadPriceBook('ap-south-1')).toThrow(/no prices for region ap-south-1/);
    expect(() => parsePriceBook({ ...book.data, monthHours: -1 })).toThrow(PriceBookError);
    expect(() => parsePriceBook({ ...book.data, monthHours: -1 })).toThrow(/monthHours/);
  });
});

describe('the generated section of docs/deploy.md', () => {
  const doc = `# Title\n\nprose\n\n${COST_BEGIN}\n\nold\n\n${COST_END}\n\nafter\n`;

  it('replaces only what is between the markers', () => {
    const updated = withCostSection(doc, 'new table');
    expect(costSection(updated)).toBe('new table');
    expect(updated.startsWith('# Title\n\nprose\n\n')).toBe(true);
    expect(updated.endsWith(`${COST_END}\n\nafter\n`)).toBe(true);
  });

  it('refuses a document without the markers or with them twice', () => {
    expect(() => costSection('# no markers')).toThrow(/expected one/);
    expect(() => costSection(`${doc}${COST_BEGIN}`)).toThrow(/expected one/);
  });
});
