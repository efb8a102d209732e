import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PipelineError } from '../../shared/errors.ts';

/** The part of a CloudFormation template the cost model reads. */
export type CfnResource = { Type: string; Properties?: Record<string, unknown> };
export type CfnTemplate = { Resources: Record<string, CfnResource> };

/** A synthesized stack: its name and template. */
export type StackTemplate = { stackName: string; template: CfnTemplate };

/** A template that cannot be read or lacks what the estimate needs. */
export class TemplateError extends PipelineError {
  override readonly name = 'TemplateError';
}

type Manifest = {
  artifacts?: Record<string, { type?: string; properties?: { templateFile?: string } }>;
};

/**
 * The CloudFormation stacks of a cloud assembly folder (`cdk.out`), read through its
 * manifest.json. Throws TemplateError when the folder holds no stack.
 */
export function readAssembly(dir: string): StackTemplate[] {
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) {
    throw new TemplateError(`${dir} is not a cloud assembly (no manifest.json): run cdk synth`);
  }
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  const stacks = Object.entries(manifest.artifacts ?? {})
    .filter(([, a]) => a.type === 'aws:cloudformation:stack' && a.properties?.templateFile)
    .map(([stackName, a]) => ({
      stackName,
      template: readTemplate(join(dir, a.properties?.templateFile ?? '')),
    }));
  if (stacks.length === 0) throw new TemplateError(`no CloudFormation stack in ${manifestFile}`);
  return stacks;
}

export function readTemplate(file: string): CfnTemplate {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<CfnTemplate>;
  if (!parsed.Resources || typeof parsed.Resources !== 'object') {
    throw new TemplateError(`${file} has no Resources`);
  }
  return parsed as CfnTemplate;
}

/** Each resource of `type`, with its logical id. */
export function resourcesOfType(
  template: CfnTemplate,
  type: string,
): Array<{ id: string; props: Record<string, unknown> }> {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => ({ id, props: r.Properties ?? {} }));
}

/** The logical id a `{ Ref }` or `{ Fn::GetAtt: [id, …] }` points at, else undefined. */
export function referencedId(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const ref = (value as { Ref?: unknown }).Ref;
  if (typeof ref === 'string') return ref;
  const getAtt = (value as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
}

/** Whether `value` (any nested template value) refers to the resource `id`. */
export function refersTo(value: unknown, id: string): boolean {
  if (referencedId(value) === id) return true;
  if (Array.isArray(value)) return value.some((v) => refersTo(v, id));
  if (value && typeof value === 'object') return Object.values(value).some((v) => refersTo(v, id));
  return false;
}

/** Reads a nested property path, e.g. `at(props, 'BrokerNodeGroupInfo', 'InstanceType')`. */
export function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!current || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** A number property (CloudFormation often writes them as strings), or `fallback`. */
export function numberAt(value: unknown, fallback: number, ...path: string[]): number {
  const raw = at(value, ...path);
  const n = typeof raw === 'string' ? Number(raw) : raw;
  return typeof n === 'number' && Number.isFinite(n) ? n : fallback;
}

export function stringAt(value: unknown, ...path: string[]): string | undefined {
  const raw = at(value, ...path);
  return typeof raw === 'string' ? raw : undefined;
}
