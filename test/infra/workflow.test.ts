import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');

type Step = { uses?: string; run?: string; with?: Record<string, unknown> };
type Workflow = {
  on: Record<string, unknown>;
  jobs: Record<
    string,
    { services?: Record<string, { image: string }>; steps: Step[]; env?: Record<string, string> }
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
});
