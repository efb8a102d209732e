import { readFileSync } from 'node:fs';

/**
 * Summarises a V8 CPU profile (.cpuprofile): self time per function and time including callees,
 * the top entries of each; with a focus, only the samples under a function whose name starts with
 * it. `npx tsx bench/profile-summary.ts <file> [entries] [focus]`.
 */
type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[] };

const [file, count = '25', focus] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [entries]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parent.set(child, node.id);
const nameOf = ({ callFrame: f }: Node) =>
  `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
for (const [i, id] of profile.samples.entries()) {
  const us = profile.timeDeltas[i] ?? 0;
  all += us;
  const node = byId.get(id);
  if (!node) continue;
  if (focus !== undefined && !underFocus(id)) continue;
  self.set(nameOf(node), (self.get(nameOf(node)) ?? 0) + us);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const name = nameOf(byId.get(at) as Node);
    if (seen.has(name)) continue;
    seen.add(name);
    total.set(name, (total.get(name) ?? 0) + us);
  }
}
function underFocus(id: number): boolean {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    if (byId.get(at)?.callFrame.functionName.startsWith(focus as string)) return true;
  }
  return false;
}
const top = (map: Map<string, number>) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(count))
    .map(([name, us]) => `${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`)
    .join('\n');
console.log(`profile: ${(all / 1000).toFixed(0)} ms sampled\n\nself time:\n${top(self)}`);
console.log(`\nincluding callees:\n${top(total)}`);
