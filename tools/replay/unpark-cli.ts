import { parseArgs } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import { UNPARK_OUTPUTS, unparkLetters, unparkQueuesOf } from './unpark.ts';

export const UNPARK_USAGE = `npm run replay -- --aws --unpark [--stage S] [--limit N] [--rate M]

Moves letters the dead-letter queue parked (after maxReceiveCount failed replays) back to the
dead-letter queue, once their cause is fixed; the replay function's trigger then delivers them,
each once. The queues are the stack outputs ${UNPARK_OUTPUTS.deadLetters} and
${UNPARK_OUTPUTS.parking} of the stack of --stage (default dev).
  --limit N   move at most N letters (receive, send, delete); without it one SQS message move
              task moves them all
  --rate M    messages per second for the move task (SQS's default: it picks the rate)
Needs cloudformation:DescribeStacks, sqs:GetQueueAttributes on both queues, and either
sqs:StartMessageMoveTask, sqs:ReceiveMessage, sqs:DeleteMessage on the parking queue (the task)
or sqs:ReceiveMessage, sqs:DeleteMessage on it and sqs:SendMessage on the dead-letter queue.`;

/** `npm run replay -- --aws --unpark …`: returns the exit code (0 done, 1 some left, 2 usage). */
export async function unparkCommand(
  argv: string[],
  print: (line: string) => void = console.log,
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      aws: { type: 'boolean', default: false },
      unpark: { type: 'boolean', default: false },
      stage: { type: 'string', default: 'dev' },
      limit: { type: 'string' },
      rate: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    print(UNPARK_USAGE);
    return 0;
  }
  if (!values.aws) {
    print('--unpark moves letters between SQS queues of a deployed stack: add --aws');
    return 2;
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    print(`--limit takes a whole number of letters, got "${values.limit}"`);
    return 2;
  }
  if (rate !== undefined && (!Number.isInteger(rate) || rate < 1 || rate > 500)) {
    print(`--rate takes 1 to 500 messages per second (SQS's limit), got "${values.rate}"`);
    return 2;
  }
  if (rate !== undefined && limit !== undefined) {
    print('--rate goes with the move task, --limit without it: pass one of them');
    return 2;
  }
  const queues = await unparkQueuesOf(values.stage);
  const result = await unparkLetters(new SQSClient({}), queues, {
    ...(limit !== undefined && { limit }),
    ...(rate !== undefined && { maxPerSecond: rate }),
  });
  if (result.kind === 'task') {
    print(
      `moving about ${result.parked} parked letter(s) back to the dead-letter queue (task ${result.taskHandle}); aws sqs list-message-move-tasks --source-arn … shows its progress`,
    );
    return 0;
  }
  print(
    `moved ${result.moved} letter(s) back to the dead-letter queue${result.failed ? `; ${result.failed} could not be sent and stay parked` : ''}`,
  );
  return result.failed > 0 ? 1 : 0;
}
