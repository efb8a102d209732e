import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { stackName } from '../../infra/naming.ts';
import { PipelineError } from '../../shared/errors.ts';
import type { StateAnswer, StateOperation } from '../../shared/use-cases/operate-sync-state.ts';

/** A deployed fetch function refused or failed the operation; the message is its own. */
export class RemoteStateError extends PipelineError {
  override readonly name = 'RemoteStateError';
}

/**
 * `npm run state -- --aws`: the operation, done by the source's fetch function in the stack (the
 * cache is in the VPC, not open to the internet). The stack output Fetch<source>FunctionName
 * names it (or `functionName`); `{"state": operation}` asks it. Needs lambda:InvokeFunction on it
 * (and cloudformation:DescribeStacks on the stack without `functionName`).
 */
export async function stateOnAws(
  stage: string,
  source: string,
  operation: StateOperation,
  functionName?: string,
): Promise<StateAnswer> {
  const name = functionName ?? (await fetchFunctionOf(stage, source));
  const answer = await new LambdaClient({}).send(
    new InvokeCommand({
      FunctionName: name,
      Payload: new TextEncoder().encode(JSON.stringify({ state: operation })),
    }),
  );
  const text = new TextDecoder().decode(answer.Payload ?? new Uint8Array());
  if (answer.FunctionError) {
    let message = text;
    try {
      message = (JSON.parse(text) as { errorMessage?: string }).errorMessage ?? text;
    } catch {
      // not JSON: the text as it came
    }
    throw new RemoteStateError(
      `the fetch function ${name} refused (${answer.FunctionError}): ${message}`,
    );
  }
  return JSON.parse(text) as StateAnswer;
}

/** The output key CloudFormation gives `Fetch${source}FunctionName` (letters and digits only). */
export function fetchOutputKey(source: string): string {
  return `Fetch${source}FunctionName`.replace(/[^A-Za-z0-9]/g, '');
}

async function fetchFunctionOf(stage: string, source: string): Promise<string> {
  const stack = stackName(stage);
  const { Stacks } = await new CloudFormationClient({}).send(
    new DescribeStacksCommand({ StackName: stack }),
  );
  const key = fetchOutputKey(source);
  const output = Stacks?.[0]?.Outputs?.find((entry) => entry.OutputKey === key);
  if (!output?.OutputValue) {
    throw new RemoteStateError(
      `stack ${stack} has no ${key} output: is "${source}" one of its sources? Or pass --function`,
    );
  }
  return output.OutputValue;
}
