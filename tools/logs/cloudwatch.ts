import {
  type CloudWatchLogsClient,
  GetQueryResultsCommand,
  type ResultField,
  StartQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { toEntry } from './entries.ts';
import { insightsQuery, type LogEntry, type LogFilter, LogQueryError } from './filters.ts';

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
      queryString: insightsQuery(request.filter, request.limit),
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
