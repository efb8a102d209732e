import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { logGroupName } from '../../infra/naming.ts';
import { queryInsights } from './cloudwatch.ts';
import { parseLogLines } from './entries.ts';
import {
  type LogEntry,
  type LogFilter,
  LogQueryError,
  matches,
  PIPELINE_ROLES,
  parseLevel,
  parseSince,
} from './filters.ts';
import { renderJson, renderTable } from './render.ts';

const USAGE = `npm run logs -- [filters] [--aws --stage <stage>] [--json]

Reads the local runtime's log file (.local/logs/latest.log) by default, or CloudWatch Logs
(Logs Insights over the stack's log groups) with --aws.

Filters (all optional, combined with AND):
  --id <id>                 one record id, from fetch to Analytics
  --correlation-id <uuid>   one fetch run and what the merge did with its records
  --level <level>           DEBUG, INFO, WARN, ERROR: that level and above
  --since <when>            15m, 2h, 7d or an ISO time (default: 24h for the file, 1h for --aws)
  --function <role>         ${PIPELINE_ROLES.join(', ')}, topic-admin

Output:
  --json                    every field of each line, one JSON object per line
  --limit <n>               at most n lines (default 1000)

Sources:
  --file <path>             another local log file
  --aws                     CloudWatch; credentials and region from the usual AWS settings
  --stage <stage>           the stack's stage (default dev): log groups /<stage>-pipeline/<role>`;

export type LogsCommandDeps = {
  now: Date;
  print: (text: string) => void;
  progress: (text: string) => void;
  readFile: (path: string) => string | undefined;
  cloudWatch: () => CloudWatchLogsClient;
};

/** Runs the command; returns the exit code. Bad flags give one line naming the flag. */
export async function runLogsCommand(argv: string[], deps: LogsCommandDeps): Promise<number> {
  let values: ReturnType<typeof parseFlags>;
  try {
    values = parseFlags(argv);
  } catch (error) {
    deps.print(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    deps.print(USAGE);
    return 0;
  }
  try {
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new LogQueryError(
        `--limit must be a whole number from 1 to 10000, got ${values.limit}`,
      );
    }
    const filter: LogFilter = {
      since: parseSince(values.since ?? (values.aws ? '1h' : '24h'), deps.now),
      ...(values.id !== undefined && { id: values.id }),
      ...(values['correlation-id'] !== undefined && { correlationId: values['correlation-id'] }),
      ...(values.level !== undefined && { level: parseLevel(values.level) }),
      ...(values.function !== undefined && { function: values.function }),
    };
    const entries = values.aws
      ? await fromCloudWatch(filter, values.stage, limit, deps)
      : fromFile(values.file, filter, limit, deps);
    deps.print(values.json ? renderJson(entries) : renderTable(entries));
    return 0;
  } catch (error) {
    if (error instanceof LogQueryError) {
      deps.print(error.message);
      return 1;
    }
    throw error;
  }
}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      id: { type: 'string' },
      'correlation-id': { type: 'string' },
      level: { type: 'string' },
      since: { type: 'string' },
      function: { type: 'string' },
      json: { type: 'boolean', default: false },
      limit: { type: 'string', default: '1000' },
      file: { type: 'string', default: join('.local', 'logs', 'latest.log') },
      aws: { type: 'boolean', default: false },
      stage: { type: 'string', default: 'dev' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
}

function fromFile(path: string, filter: LogFilter, limit: number, deps: LogsCommandDeps) {
  const text = deps.readFile(path);
  if (text === undefined) {
    throw new LogQueryError(
      `No log file at ${path}. Run the pipeline first (npm run local -- --cycles 1), or pass --file or --aws.`,
    );
  }
  const entries = parseLogLines(text.split('\n')).filter((entry) => matches(entry, filter));
  return entries.slice(-limit);
}

async function fromCloudWatch(
  filter: LogFilter,
  stage: string,
  limit: number,
  deps: LogsCommandDeps,
): Promise<LogEntry[]> {
  const roles = filter.function ? [filter.function] : PIPELINE_ROLES;
  const logGroupNames = roles.map((role) => logGroupName(stage, role));
  deps.progress(`Querying ${logGroupNames.join(', ')} since ${filter.since.toISOString()}…`);
  return queryInsights(deps.cloudWatch(), {
    logGroupNames,
    filter,
    limit,
    now: deps.now,
    onProgress: (status, matched) => deps.progress(`query ${status}: ${matched} matched`),
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const code = await runLogsCommand(process.argv.slice(2), {
    now: new Date(),
    print: (text) => console.log(text),
    progress: (text) => console.error(text),
    readFile: (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined),
    cloudWatch: () => new CloudWatchLogsClient({}),
  });
  process.exitCode = code;
}
