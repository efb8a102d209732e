import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CloudWatchLogsClient,
  type CloudWatchLogsClientConfig,
} from '@aws-sdk/client-cloudwatch-logs';
import { LOCALSTACK_GATEWAY, LOCALSTACK_REGION } from '../../infra/localstack.ts';
import { logGroupName, stackName } from '../../infra/naming.ts';
import { filterLogEvents, logGroupsStartingWith, queryInsights } from './cloudwatch.ts';
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
import {
  type Lineage,
  lineageIn,
  lineageSummary,
  payloadLineageQuery,
  payloadPath,
  payloadPrefixQuery,
  sourceSideQuery,
} from './lineage.ts';
import {
  type IdOrPrefix,
  parseCorrelationArgument,
  parsePayloadArgument,
  resolvePrefix,
} from './prefixes.ts';
import { renderJson, renderTable } from './render.ts';

const USAGE = `npm run logs -- [filters] [--aws | --localstack] [--stage <stage>] [--json]

Reads the latest local run's log file (.local/logs/latest.log; --file .local/logs/run-….log
reads an earlier run's) by default, CloudWatch Logs (Logs Insights over the stack's log groups)
with --aws, or the CloudWatch Logs of LocalStack (npm run deploy:local) with --localstack.

Filters (all optional, combined with AND):
  --id <id>                 one record id, from fetch to Analytics
  --payload <hash>          one delivered payload (its hash, the Idempotency-Key): the topic,
                            partition, offset and fetch run of each side, and its path from
                            the fetch to the Analytics answer (not with --id, --correlation-id)
  --correlation-id <uuid>   one fetch run and what the merge did with its records
                            (both take the whole value or, as the table shows them, its first
                            8 or more hex digits, when they name one payload or run)
  --level <level>           DEBUG, INFO, WARN, ERROR: that level and above
  --since <when>            15m, 2h, 7d or an ISO time (default: 24h for the file, 1h for --aws)
  --function <role>         ${PIPELINE_ROLES.join(', ')}, topic-admin

Output:
  --json                    every field of each line, one JSON object per line
  --limit <n>               at most n lines (default 1000)

Sources:
  --file <path>             another local log file (each run writes its own, run-<time>.log)
  --aws                     CloudWatch; credentials and region from the usual AWS settings
  --localstack              LocalStack's CloudWatch Logs at ${LOCALSTACK_GATEWAY} (FilterLogEvents)
  --endpoint <url>          another CloudWatch Logs endpoint for --aws or --localstack
  --stage <stage>           the stack's stage (default dev, local with --localstack):
                            log groups /<stage>-pipeline/<role>`;

export type LogsCommandDeps = {
  now: Date;
  print: (text: string) => void;
  progress: (text: string) => void;
  readFile: (path: string) => string | undefined;
  /** A client with these settings over the usual AWS ones (endpoint, region, credentials). */
  cloudWatch: (config: CloudWatchLogsClientConfig) => CloudWatchLogsClient;
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
    if (values.aws && values.localstack)
      throw new LogQueryError('--aws and --localstack name two sources: give one');
    const cloud = values.aws || values.localstack;
    if (values.payload !== undefined) {
      if (values.id !== undefined || values['correlation-id'] !== undefined)
        throw new LogQueryError(
          '--payload names one payload: give it without --id or --correlation-id',
        );
      const payload = parsePayloadArgument(values.payload);
      const since = parseSince(values.since ?? (cloud ? '1h' : '24h'), deps.now);
      const traced = await tracePayload(payload, { since }, values, limit, deps);
      deps.print(
        values.json
          ? renderJson(traced.path)
          : [...lineageSummary(traced.lineage), '', renderTable(traced.path)].join('\n'),
      );
      return 0;
    }
    const correlation =
      values['correlation-id'] === undefined
        ? undefined
        : parseCorrelationArgument(values['correlation-id']);
    const filter: LogFilter = {
      since: parseSince(values.since ?? (cloud ? '1h' : '24h'), deps.now),
      ...(values.id !== undefined && { id: values.id }),
      ...(correlation &&
        ('whole' in correlation
          ? { correlationId: correlation.whole }
          : { correlationPrefix: correlation.prefix })),
      ...(values.level !== undefined && { level: parseLevel(values.level) }),
      ...(values.function !== undefined && { function: values.function }),
    };
    const entries = values.localstack
      ? await fromLocalStack(filter, values, limit, deps)
      : values.aws
        ? await fromCloudWatch(filter, values, limit, deps)
        : fromFile(values.file, filter, limit, deps);
    // A shortened id must name one fetch run among the lines it matched.
    if (correlation && 'prefix' in correlation) {
      resolvePrefix(
        '--correlation-id',
        correlation.prefix,
        entries.map((entry) => entry.correlationId),
      );
    }
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
      payload: { type: 'string' },
      'correlation-id': { type: 'string' },
      level: { type: 'string' },
      since: { type: 'string' },
      function: { type: 'string' },
      json: { type: 'boolean', default: false },
      limit: { type: 'string', default: '1000' },
      file: { type: 'string', default: join('.local', 'logs', 'latest.log') },
      aws: { type: 'boolean', default: false },
      localstack: { type: 'boolean', default: false },
      endpoint: { type: 'string' },
      stage: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
}

/**
 * A payload's lineage and path. From the file or LocalStack: every line since `since`, traced
 * here. From CloudWatch: the lineage query by hash, then one query for the source side (the id
 * in the fetch runs the lineage names).
 */
async function tracePayload(
  payload: IdOrPrefix,
  filter: LogFilter,
  flags: Flags,
  limit: number,
  deps: LogsCommandDeps,
): Promise<{ lineage: Lineage; path: LogEntry[] }> {
  const notFound = (hash: string) =>
    new LogQueryError(
      'prefix' in payload && hash === payload.prefix
        ? `No log line has a payload hash starting ${hash} since ${filter.since.toISOString()} (--since).`
        : `No "payload lineage" line for ${hash} since ${filter.since.toISOString()}: was it delivered in that time (--since)? Payloads delivered before lineage was logged have none.`,
    );
  /** The whole hash: as given, or the one the prefix names among the lines. */
  const hashIn = (entries: LogEntry[]) =>
    'whole' in payload
      ? payload.whole
      : resolvePrefix(
          '--payload',
          payload.prefix,
          entries.map((entry) => entry.hash),
        );
  if (!flags.aws) {
    // Every line of the time range: the trace needs lines no single filter selects.
    const entries = flags.localstack
      ? await fromLocalStack(filter, flags, 10_000, deps)
      : fromFile(flags.file, filter, Number.MAX_SAFE_INTEGER, deps);
    const hash = hashIn(entries);
    if (hash === undefined) throw notFound((payload as { prefix: string }).prefix);
    const lineage = lineageIn(entries, hash);
    if (!lineage) throw notFound(hash);
    return { lineage, path: payloadPath(entries, lineage).slice(-limit) };
  }
  const hash =
    'whole' in payload
      ? payload.whole
      : hashIn(
          await fromCloudWatch(filter, flags, limit, deps, payloadPrefixQuery(payload.prefix)),
        );
  if (hash === undefined) throw notFound((payload as { prefix: string }).prefix);
  const byHash = await fromCloudWatch(filter, flags, limit, deps, payloadLineageQuery(hash));
  const lineage = lineageIn(byHash, hash);
  if (!lineage) throw notFound(hash);
  const runs = Object.values(lineage.sides).flatMap((origin) =>
    origin.correlationId === undefined ? [] : [origin.correlationId],
  );
  const sourceSide =
    lineage.id !== undefined && runs.length > 0
      ? await fromCloudWatch(filter, flags, limit, deps, sourceSideQuery(lineage.id, runs, limit))
      : [];
  return { lineage, path: payloadPath([...sourceSide, ...byHash], lineage).slice(-limit) };
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

type Flags = ReturnType<typeof parseFlags>;

const logGroupsOf = (filter: LogFilter, stage: string) =>
  (filter.function ? [filter.function] : PIPELINE_ROLES).map((role) => logGroupName(stage, role));

async function fromCloudWatch(
  filter: LogFilter,
  flags: Flags,
  limit: number,
  deps: LogsCommandDeps,
  queryString?: string,
): Promise<LogEntry[]> {
  const logGroupNames = logGroupsOf(filter, flags.stage ?? 'dev');
  deps.progress(`Querying ${logGroupNames.join(', ')} since ${filter.since.toISOString()}…`);
  return queryInsights(deps.cloudWatch(flags.endpoint ? { endpoint: flags.endpoint } : {}), {
    logGroupNames,
    filter,
    limit,
    now: deps.now,
    onProgress: (status, matched) => deps.progress(`query ${status}: ${matched} matched`),
    ...(queryString !== undefined && { queryString }),
  });
}

/** The functions' log lines from LocalStack, where `npm run deploy:local` put the stack. */
async function fromLocalStack(
  filter: LogFilter,
  flags: Flags,
  limit: number,
  deps: LogsCommandDeps,
): Promise<LogEntry[]> {
  const endpoint = flags.endpoint ?? LOCALSTACK_GATEWAY;
  const stage = flags.stage ?? 'local';
  // LocalStack takes any credentials; these keep the SDK from looking for real ones.
  const client = deps.cloudWatch({
    endpoint,
    region: LOCALSTACK_REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  // The stack's own groups, and Lambda's default ones of its functions, should LocalStack not
  // follow a function's logging configuration; --function then filters on the line's service.
  const defaults = await logGroupsStartingWith(client, `/aws/lambda/${stackName(stage)}-`);
  const logGroupNames = [...logGroupsOf(filter, stage), ...defaults];
  deps.progress(`Reading ${logGroupNames.join(', ')} at ${endpoint}…`);
  return filterLogEvents(client, {
    logGroupNames,
    filter,
    limit,
    now: deps.now,
    onMissing: (group) => deps.progress(`${group}: no such log group yet (has it run?)`),
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const code = await runLogsCommand(process.argv.slice(2), {
    now: new Date(),
    print: (text) => console.log(text),
    progress: (text) => console.error(text),
    readFile: (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined),
    cloudWatch: (config) => new CloudWatchLogsClient(config),
  });
  process.exitCode = code;
}
