import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app.ts';
import type { PipelineStack } from '../../infra/pipeline-stack.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** The context `cdk synth` gets from cdk.json (feature flags and defaults), as the CLI reads it. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

export type Synthesized = { template: Template; stack: PipelineStack; outdir: string };

/**
 * Synthesizes the app the way `cdk synth` does (cdk.json context, then `overrides`) into a fresh
 * folder and returns the stack's template and the cloud assembly folder. The function bundles are
 * built only with `bundle: true` (the artifact tests); template assertions do not need them.
 */
export function synthesize(
  overrides: Record<string, unknown> = {},
  { bundle = false }: { bundle?: boolean } = {},
): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-test-'));
  const { app, stack } = buildApp(
    // The CLI also turns on asset metadata (which bundle each function deploys).
    new App({
      outdir,
      context: {
        ...cdkJsonContext(),
        'aws:cdk:enable-asset-metadata': true,
        ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
        ...overrides,
      },
    }),
  );
  app.synth();
  return { template: Template.fromStack(stack), stack, outdir };
}
