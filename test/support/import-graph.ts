import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** A module's path from the repository root, and the modules of the repository it imports. */
export type ImportGraph = Map<string, Set<string>>;

/** Static, re-export, side-effect and dynamic imports of a relative path. */
const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/** The TypeScript files under `folders` (relative to `root`), node_modules and cdk.out left out. */
function sourceFiles(root: string, folders: readonly string[]): string[] {
  const found: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('cdk.out')) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) found.push(path);
    }
  };
  for (const folder of folders) walk(join(root, folder));
  return found;
}

/** Who imports whom among the TypeScript files of `folders` (imports out of them are kept too). */
export function importGraph(root: string, folders: readonly string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of sourceFiles(root, folders)) {
    const imports = new Set<string>();
    for (const match of readFileSync(file, 'utf8').matchAll(RELATIVE_IMPORT)) {
      imports.add(relative(root, resolve(dirname(file), match[1] as string)));
    }
    graph.set(relative(root, file), imports);
  }
  return graph;
}

/** Every pair of modules that import each other, each pair once, sorted. */
export function twoFileCircles(graph: ImportGraph): [string, string][] {
  const circles: [string, string][] = [];
  for (const [from, imports] of graph) {
    for (const to of imports) {
      if (from < to && graph.get(to)?.has(from)) circles.push([from, to]);
    }
  }
  return circles.sort();
}
