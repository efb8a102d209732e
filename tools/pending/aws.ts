import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { PendingAnswer } from '../../functions/sweep/handler.ts';
import { stackName } from '../../infra/naming.ts';
import { ageText, pendingLines } from '../../local/orphans.ts';

/**
 * `npm run pending -- --aws`: the listing from the deployed sweeper (the cache is in the VPC).
 * The stack output SweepFunctionName names it (or `functionName`), `{"list": N}` asks it. Returns
 * the lines to print; throws naming the stack or the function when either fails.
 */
export async function pendingOnAws(
  stage: string,
  functionName: string | undefined,
  limit: number,
  now = Date.now(),
): Promise<string[]> {
  const name = functionName ?? (await sweeperOf(stage));
  const answer = await new LambdaClient({}).send(
    new InvokeCommand({
      FunctionName: name,
      Payload: new TextEncoder().encode(JSON.stringify({ list: limit })),
    }),
  );
  const text = new TextDecoder().decode(answer.Payload ?? new Uint8Array());
  if (answer.FunctionError)
    throw new Error(`the sweeper ${name} failed (${answer.FunctionError}): ${text}`);
  const listing = JSON.parse(text) as PendingAnswer;
  const { stats } = listing;
  const oldest =
    stats.oldestFirstSeenMs === null
      ? ''
      : `, the oldest waiting ${ageText(now - stats.oldestFirstSeenMs)}`;
  return [
    `${stackName(stage)} join ${listing.join}: ${stats.pending} pending${oldest}`,
    ...pendingLines(listing, listing.pending, now),
  ];
}

/** The sweeper's function name, from the SweepFunctionName output of the stage's stack. */
async function sweeperOf(stage: string): Promise<string> {
  const stack = stackName(stage);
  const { Stacks } = await new CloudFormationClient({}).send(
    new DescribeStacksCommand({ StackName: stack }),
  );
  const output = Stacks?.[0]?.Outputs?.find((entry) => entry.OutputKey === 'SweepFunctionName');
  if (!output?.OutputValue)
    throw new Error(
      `stack ${stack} has no SweepFunctionName output: deploy this version, or pass --function`,
    );
  return output.OutputValue;
}
