import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');

type Step = { uses?: string; run?: string; if?: string; with?: Record<string, unknown> };
type Workflow = {
  on: Record<string, unknown>;
  jobs: Record<
    string,
    {
      services?: Record<string, { image: string }>;
      steps: Step[];
      env?: Record<string, string>;
      'timeout-minutes'?: number;
    }
  >;
};

const workflow = parse(readFileSync(join(ROOT, '.github/workflows/ci.yml'), 'utf8')) as Workflow;
const job = Object.values(workflow.jobs)[0];
const steps = job?.steps ?? [];
const usesOf = (action: string) => steps.find((step) => step.uses?.startsWith(`${action}@`));

describe('the GitHub Actions workflow', () => {
  it('runs on pushes to main and on pull requests', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push']);
  });

  it('sets up Node 22, Java 17 and a Redis service, as .ci/run needs', () => {
    expect(usesOf('actions/setup-node')?.with?.['node-version']).toBe(22);
    expect(usesOf('actions/setup-java')?.with?.['java-version']).toBe(17);
    expect(job?.services?.redis?.image).toMatch(/^redis:\d/);
    expect(steps.some((step) => step.run?.includes('cfn-lint'))).toBe(true);
  });

  it('runs .ci/run itself, so CI here and there cannot drift apart', () => {
    expect(steps.at(-1)?.run).toBe('bash .ci/run');
  });

  it('runs the mutation test in a job of its own, not in .ci/run (whose budget is 15 minutes)', () => {
    const mutation = workflow.jobs.mutation;
    expect(mutation?.steps.some((step) => step.run === 'npm run test:mutation')).toBe(true);
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).not.toContain('test:mutation');
    expect(mutation?.services?.redis?.image).toMatch(/^redis:\d/);
    expect(mutation?.['timeout-minutes']).toBeGreaterThanOrEqual(45);
  });

  it("keeps Stryker's incremental file in the Actions cache, saved even when a floor is missed", () => {
    const mutation = workflow.jobs.mutation;
    const stepsOf = mutation?.steps ?? [];
    const config = readFileSync(join(ROOT, 'stryker.config.mjs'), 'utf8');
    const file = '.local/mutation/stryker-incremental.json';
    expect(config).toContain(`incrementalFile: '${file}'`);
    expect(config).toMatch(/incremental: true/);
    const restore = stepsOf.findIndex((step) => step.uses?.startsWith('actions/cache/restore@'));
    const run = stepsOf.findIndex((step) => step.run === 'npm run test:mutation');
    const save = stepsOf.findIndex((step) => step.uses?.startsWith('actions/cache/save@'));
    expect(restore).toBeGreaterThanOrEqual(0);
    expect(restore).toBeLessThan(run);
    expect(save).toBeGreaterThan(run);
    const restoreWith = stepsOf[restore]?.with ?? {};
    const saveWith = stepsOf[save]?.with ?? {};
    expect([restoreWith.path, saveWith.path]).toEqual([file, file]);
    // A key per commit, restored by prefix: a change reuses the newest earlier result.
    expect(saveWith.key).toBe(restoreWith.key);
    expect(String(saveWith.key)).toMatch(/\$\{\{ github\.sha \}\}/);
    expect(String(saveWith.key).startsWith(String(restoreWith['restore-keys']))).toBe(true);
    expect(stepsOf[save]?.if).toContain('always()');
  });
});
