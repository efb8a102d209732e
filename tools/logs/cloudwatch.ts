import {
  type CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  FilterLogEventsCommand,
  type FilterLogEventsCommandOutput,
  GetQueryResultsCommand,
  ResourceNotFoundException,
  type ResultField,
  StartQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { parseLogLines, toEntry } from './entries.ts';
import { insightsQuery, type LogEntry, type LogFilter, LogQueryError, matches } from './filters.ts';

export type InsightsRequest = {
  logGroupNames: string[];
  filter: LogFilter;
  limit: number;
  now: Date;
  /** Between polls of the query's status. */
  pollMs?: number;
  /** Gives up after this long. */
  timeoutMs?: number;
  onProgress?: (status: string, matched: number) => void;
  /** The query to run instead of the filter's (the filter's `since` still bounds the time). */
  queryString?: string;
};

/**
 * Runs the filter as a Logs Insights query over the log groups and waits for it to finish.
 * Throws LogQueryError when the query fails, is cancelled or does not finish in time.
 */
export async function queryInsights(
  client: CloudWatchLogsClient,
  request: InsightsRequest,
): Promise<LogEntry[]> {
  const started = await client.send(
    new StartQueryCommand({
      logGroupNames: request.logGroupNames,
      queryString: request.queryString ?? insightsQuery(request.filter, request.limit),
      startTime: Math.floor(request.filter.since.getTime() / 1000),
      endTime: Math.ceil(request.now.getTime() / 1000),
      limit: request.limit,
    }),
  );
  const queryId = started.queryId;
  if (!queryId) throw new LogQueryError('CloudWatch Logs started no query (no queryId)');
  const deadline = Date.now() + (request.timeoutMs ?? 60_000);
  for (;;) {
    const result = await client.send(new GetQueryResultsCommand({ queryId }));
    const status = result.status ?? 'Unknown';
    request.onProgress?.(status, result.statistics?.recordsMatched ?? 0);
    if (status === 'Complete') return (result.results ?? []).flatMap(rowToEntry);
    if (['Failed', 'Cancelled', 'Timeout', 'Unknown'].includes(status)) {
      throw new LogQueryError(`Logs Insights query ${queryId} ended with status ${status}`);
    }
    if (Date.now() > deadline) {
      throw new LogQueryError(`Logs Insights query ${queryId} did not finish in time`);
    }
    await new Promise((resolve) => setTimeout(resolve, request.pollMs ?? 1000));
  }
}

function rowToEntry(row: ResultField[]): LogEntry[] {
  const fields: Record<string, unknown> = {};
  for (const { field, value } of row) {
    if (field && field !== '@ptr') fields[field] = value;
  }
  const entry = toEntry(fields);
  return entry ? [entry] : [];
}

/** Pages of FilterLogEvents read per log group at most (a guard against a token that never ends). */
const MAX_PAGES = 1000;

/**
 * Reads the log groups with FilterLogEvents from `since` and keeps the pipeline lines that pass
 * the filter, oldest first, the last `limit` of them. This is the path for LocalStack, whose
 * CloudWatch Logs documents FilterLogEvents but not Logs Insights. A log group that does not
 * exist yet (its function never ran) is reported through onMissing and reads as empty.
 */
export async function filterLogEvents(
  client: CloudWatchLogsClient,
  request: Omit<InsightsRequest, 'pollMs' | 'timeoutMs' | 'onProgress'> & {
    onMissing?: (logGroupName: string) => void;
  },
): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  for (const logGroupName of request.logGroupNames) {
    let nextToken: string | undefined;
    for (let page = 0; page === 0 || nextToken; page++) {
      if (page >= MAX_PAGES)
        throw new LogQueryError(`${logGroupName}: more than ${MAX_PAGES} pages of log events`);
      let answer: FilterLogEventsCommandOutput;
      try {
        answer = await client.send(
          new FilterLogEventsCommand({
            logGroupName,
            startTime: request.filter.since.getTime(),
            endTime: request.now.getTime(),
            nextToken,
          }),
        );
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
        request.onMissing?.(logGroupName);
        break;
      }
      for (const event of answer.events ?? []) {
        const message = event.message ?? '';
        // Lines the Lambda runtime prefixes (time, request id, level) carry the JSON after it.
        const json = message.slice(Math.max(0, message.indexOf('{')));
        entries.push(...parseLogLines([json]).filter((entry) => matches(entry, request.filter)));
      }
      nextToken = answer.nextToken;
    }
  }
  entries.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
  return entries.slice(-request.limit);
}

/**
 * Log groups whose names start with `prefix` (for LocalStack, which may write a function's lines
 * to Lambda's default group, /aws/lambda/<function name>, rather than the one the stack names).
 */
export async function logGroupsStartingWith(
  client: CloudWatchLogsClient,
  prefix: string,
): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page === 0 || nextToken; page++) {
    if (page >= MAX_PAGES) throw new LogQueryError(`${prefix}*: more than ${MAX_PAGES} pages`);
    const answer = await client.send(
      new DescribeLogGroupsCommand({ logGroupNamePrefix: prefix, nextToken }),
    );
    for (const group of answer.logGroups ?? [])
      if (group.logGroupName) names.push(group.logGroupName);
    nextToken = answer.nextToken;
  }
  return names;
}
