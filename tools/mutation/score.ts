/**
 * Reads Stryker's JSON report (reports/mutation/mutation.json), prints the mutation score of
 * each folder as a Markdown table (also written to reports/mutation/summary.md) and exits 1 when
 * a folder with a floor is under it, listing the mutants that survived there.
 *
 *   npx tsx tools/mutation/score.ts [report.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Folders whose score must not fall under this many percent. */
const FLOORS: Record<string, number> = { 'shared/domain': 80, 'shared/use-cases': 80 };

type MutantStatus =
  | 'Killed'
  | 'Survived'
  | 'NoCoverage'
  | 'Timeout'
  | 'CompileError'
  | 'RuntimeError'
  | 'Ignored'
  | 'Pending';

type Mutant = {
  mutatorName: string;
  replacement?: string;
  status: MutantStatus;
  location: { start: { line: number; column: number } };
};

type Report = { files: Record<string, { mutants: Mutant[] }> };

type FolderScore = {
  folder: string;
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  ignored: number;
  /** Detected over valid mutants (Stryker's mutation score), in percent; null when none. */
  score: number | null;
  /** Detected over covered mutants, in percent; null when none. */
  coveredScore: number | null;
};

/** Counts per folder (the file's directory), then one line per top folder (shared, functions). */
function scoreByFolder(report: Report): FolderScore[] {
  const folders = new Map<string, Mutant[]>();
  const add = (folder: string, mutants: Mutant[]) =>
    folders.set(folder, [...(folders.get(folder) ?? []), ...mutants]);
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const folder = dirname(file.replaceAll('\\', '/'));
    add(folder.includes('/') ? folder : `${folder}/*.ts`, mutants);
    add(`${folder.split('/')[0] ?? folder}/** (all)`, mutants);
  }
  return [...folders.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([folder, mutants]) => {
      const count = (status: MutantStatus) => mutants.filter((m) => m.status === status).length;
      const killed = count('Killed');
      const timeout = count('Timeout');
      const survived = count('Survived');
      const noCoverage = count('NoCoverage');
      const detected = killed + timeout;
      const percent = (part: number, whole: number) => (whole === 0 ? null : (part / whole) * 100);
      return {
        folder,
        killed,
        timeout,
        survived,
        noCoverage,
        ignored: count('Ignored'),
        score: percent(detected, detected + survived + noCoverage),
        coveredScore: percent(detected, detected + survived),
      };
    });
}

function renderTable(scores: FolderScore[]): string {
  const show = (value: number | null) => (value === null ? 'n/a' : `${value.toFixed(2)} %`);
  const lines = [
    '| folder | score | covered score | killed | timeout | survived | no coverage | ignored (static or disabled) | floor |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of scores) {
    const floor = FLOORS[s.folder];
    lines.push(
      `| ${s.folder} | ${show(s.score)} | ${show(s.coveredScore)} | ${s.killed} | ${s.timeout} | ${s.survived} | ${s.noCoverage} | ${s.ignored} | ${floor === undefined ? '' : `${floor} %`} |`,
    );
  }
  return lines.join('\n');
}

function main(): void {
  const path = process.argv[2] ?? 'reports/mutation/mutation.json';
  const report = JSON.parse(readFileSync(path, 'utf8')) as Report;
  const scores = scoreByFolder(report);
  const table = renderTable(scores);
  writeFileSync(join(dirname(path), 'summary.md'), `${table}\n`);
  process.stdout.write(`\nMutation score per folder (${path}):\n\n${table}\n\n`);
  let failed = false;
  for (const [folder, floor] of Object.entries(FLOORS)) {
    const score = scores.find((s) => s.folder === folder)?.score ?? null;
    if (score !== null && score >= floor) continue;
    failed = true;
    process.stdout.write(`FAIL ${folder}: ${score ?? 'no'} % is under the ${floor} % floor.\n`);
    for (const [file, { mutants }] of Object.entries(report.files)) {
      if (dirname(file) !== folder) continue;
      for (const m of mutants) {
        if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
        const at = `${file}:${m.location.start.line}:${m.location.start.column}`;
        process.stdout.write(`  ${m.status} ${at} ${m.mutatorName} -> ${m.replacement ?? ''}\n`);
      }
    }
  }
  if (failed) process.exitCode = 1;
}

main();
