import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext } from './config.ts';
import { acknowledgeNagFindings } from './nag-suppressions.ts';
import { stackName } from './naming.ts';
import { PipelineStack } from './pipeline-stack.ts';

/** Builds the app: the stack from `pipeline:*` context, checked by cdk-nag's AwsSolutions pack. */
export function buildApp(app = new App()): { app: App; stack: PipelineStack } {
  const config = configFromContext(
    (key) => app.node.tryGetContext(key),
    Object.keys(app.node.getAllContext()),
  );
  const stack = new PipelineStack(app, stackName(config.stage), {
    config,
    description: 'CRM + Inventory -> MSK -> merge -> Analytics (kafka-merge-pipeline)',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  acknowledgeNagFindings(
    stack,
    stack.invokedFunctions,
    config.target,
    config.shape.nat.kind === 'instance',
  );
  return { app, stack };
}

if (import.meta.url === `file://${process.argv[1]}`) buildApp();
