import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  LambdaClient,
  ListEventSourceMappingsCommand,
  type ListEventSourceMappingsCommandOutput,
} from '@aws-sdk/client-lambda';
import { LOCALSTACK_GATEWAY, LOCALSTACK_REGION } from '../../infra/localstack.ts';
import { PipelineError } from '../../shared/errors.ts';

export class AfterDeployError extends PipelineError {
  override name = 'AfterDeployError';
}

export type StackOutputs = Record<string, string>;

export type AfterDeployDeps = {
  lambda: LambdaClient;
  say: (line: string) => void;
  /** How long to wait for the Kafka mappings to be enabled. */
  timeoutMs?: number;
  pollMs?: number;
};

/**
 * What `npm run deploy:local` does once `cdklocal deploy` has returned: waits until every event
 * source mapping of the merge function is Enabled, which is when LocalStack polls the broker.
 * (The mock APIs take no credentials, so there is no secret to fill.) Throws AfterDeployError
 * naming what is missing or still not enabled.
 */
export async function afterDeploy(outputs: StackOutputs, deps: AfterDeployDeps): Promise<void> {
  const merge = outputs.MergeFunctionName;
  if (!merge) throw new AfterDeployError('the stack outputs name no MergeFunctionName');
  const deadline = Date.now() + (deps.timeoutMs ?? 120_000);
  for (;;) {
    const listed: ListEventSourceMappingsCommandOutput = await deps.lambda.send(
      new ListEventSourceMappingsCommand({ FunctionName: merge }),
    );
    const mappings = listed.EventSourceMappings ?? [];
    const waiting = mappings.filter((mapping) => mapping.State !== 'Enabled');
    if (mappings.length > 0 && waiting.length === 0) {
      deps.say(`${mappings.length} Kafka mappings of ${merge} enabled`);
      return;
    }
    if (Date.now() > deadline) {
      const states = mappings.map((m) => `${m.Topics?.join(',')}: ${m.State}`).join('; ');
      throw new AfterDeployError(
        `the event source mappings of ${merge} are not enabled (${states || 'none found'}); see docker compose -f docker-compose.localstack.yml logs localstack`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, deps.pollMs ?? 2000));
  }
}

/** Reads the outputs file `cdk deploy --outputs-file` writes: { "<stack>": { key: value } }. */
function readStackOutputs(path: string): StackOutputs {
  const stacks = JSON.parse(readFileSync(path, 'utf8')) as Record<string, StackOutputs>;
  const [outputs, ...others] = Object.values(stacks);
  if (!outputs || others.length > 0)
    throw new AfterDeployError(`${path} should hold the outputs of exactly one stack`);
  return outputs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      outputs: { type: 'string', default: '.local/localstack-outputs.json' },
      endpoint: { type: 'string', default: LOCALSTACK_GATEWAY },
    },
  });
  // LocalStack takes any credentials; these keep the SDK from looking for real ones.
  const client = {
    endpoint: values.endpoint,
    region: LOCALSTACK_REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  try {
    await afterDeploy(readStackOutputs(values.outputs), {
      lambda: new LambdaClient(client),
      say: (line) => console.log(line),
    });
  } catch (error) {
    if (!(error instanceof AfterDeployError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  }
}
