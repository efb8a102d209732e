import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importGraph, twoFileCircles } from '../support/import-graph.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const FOLDERS = ['shared', 'functions', 'local', 'infra', 'tools'] as const;

describe('the import graph', () => {
  const graph = importGraph(ROOT, FOLDERS);

  it('reads the modules of every folder it guards', () => {
    for (const folder of FOLDERS) {
      expect(
        [...graph.keys()].some((path) => path.startsWith(`${folder}/`)),
        folder,
      ).toBe(true);
    }
    expect(graph.get('shared/use-cases/merge-batch.ts')).toContain(
      'shared/use-cases/deliver-batches.ts',
    );
  });

  it('has no two modules that import each other (move the shared type down instead)', () => {
    expect(twoFileCircles(graph)).toEqual([]);
  });

  it('finds a circle when one is planted, type-only, re-export and dynamic imports included', () => {
    const planted = new Map([
      ['a.ts', new Set(['b.ts'])],
      ['b.ts', new Set(['a.ts', 'c.ts'])],
      ['c.ts', new Set<string>()],
    ]);
    expect(twoFileCircles(planted)).toEqual([['a.ts', 'b.ts']]);
    // The real reader sees `export … from`, `import type` and `import()` as imports.
    expect(graph.get('local/deployment.ts')).toContain('local/deployment-options.ts');
    expect(graph.get('local/wiring.ts')).toContain('local/deployment-options.ts');
  });
});

describe('errors', () => {
  it('every error class of the project derives from PipelineError, which takes a cause', () => {
    const plain: string[] = [];
    for (const path of importGraph(ROOT, FOLDERS).keys()) {
      const text = readFileSync(join(ROOT, path), 'utf8');
      for (const match of text.matchAll(/class (\w+) extends Error\b/g)) {
        if (match[1] !== 'PipelineError') plain.push(`${path}: ${match[1]}`);
      }
    }
    expect(plain).toEqual([]);
  });
});
