import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Annotations, App } from 'aws-cdk-lib';
import { buildApp } from '../../infra/app.ts';
import { type CfnTemplate, readAssembly } from './template.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * Synthesizes the stack in this process the way `cdk synth -c <context>` does (cdk.json's
 * context first, then `context`), without bundling the functions, and returns its template.
 */
export function synthesizeTemplate(context: Record<string, unknown>): CfnTemplate {
  const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const outdir = mkdtempSync(join(tmpdir(), 'cost-synth-'));
  const { app, stack: pipeline } = buildApp(
    new App({
      outdir,
      context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context },
    }),
  );
  // The stage is priced as it runs once its endpoints are set: a schedule created disabled
  // because they are still placeholders is priced as enabled, so the warning says nothing here.
  Annotations.of(pipeline).acknowledgeWarning(
    'pipeline:placeholder-endpoints',
    'priced as a stage whose endpoints are set',
  );
  app.synth();
  const [stack] = readAssembly(outdir);
  if (!stack) throw new Error(`synthesis into ${outdir} produced no stack`);
  return stack.template;
}

/**
 * The template of each profile, synthesized with `-c pipeline:profile=<p>`. A profile whose
 * template equals the default (`standard`) one is left out and named in `ignored`: the build
 * in hand does not know that profile yet.
 */
export function synthesizeProfiles(
  profiles: readonly string[],
  synthesize: (context: Record<string, unknown>) => CfnTemplate = synthesizeTemplate,
): {
  templates: Array<{ profile: string; template: CfnTemplate }>;
  ignored: string[];
} {
  const all = profiles.map((profile) => ({
    profile,
    template: synthesize({ 'pipeline:profile': profile }),
  }));
  const standard = all.find((t) => t.profile === 'standard');
  const same = (t: { profile: string; template: CfnTemplate }) =>
    standard !== undefined &&
    t !== standard &&
    JSON.stringify(t.template) === JSON.stringify(standard.template);
  return {
    templates: all.filter((t) => !same(t)),
    ignored: all.filter(same).map((t) => t.profile),
  };
}
