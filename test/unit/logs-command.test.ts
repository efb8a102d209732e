import {
  CloudWatchLogsClient,
  type CloudWatchLogsClientConfig,
  DescribeLogGroupsCommand,
  FilterLogEventsCommand,
  GetQueryResultsCommand,
  ResourceNotFoundException,
  StartQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { type LogsCommandDeps, runLogsCommand } from '../../tools/logs/cli.ts';
import { queryInsights } from '../../tools/logs/cloudwatch.ts';
import { insightsQuery, LogQueryError, parseSince } from '../../tools/logs/filters.ts';

const cloudWatch = mockClient(CloudWatchLogsClient);
afterEach(() => cloudWatch.reset());

const NOW = new Date('2026-11-25T12:00:00Z');
const line = (fields: Record<string, unknown>) =>
  JSON.stringify({ timestamp: '2026-11-25T11:59:00.000Z', level: 'INFO', ...fields });

const LOCAL_LOG = [
  line({
    service: 'fetch-crm',
    message: 'record published',
    id: '1',
    topic: 'customer_data',
    correlationId: 'c-crm',
  }),
  line({
    service: 'fetch-inventory',
    message: 'record published',
    id: '1',
    topic: 'inventory_data',
    correlationId: 'c-inv',
  }),
  line({
    service: 'fetch-crm',
    message: 'record published',
    id: '2',
    topic: 'customer_data',
    correlationId: 'c-crm',
  }),
  line({
    service: 'merge',
    message: 'record joined',
    id: '1',
    topic: 'customer_data',
    partition: 0,
    offset: '0',
    correlationId: 'c-crm',
  }),
  line({
    service: 'merge',
    message: 'payload delivered',
    id: '1',
    topic: 'inventory_data',
    partition: 1,
    offset: '3',
    hash: 'ab'.repeat(32),
    correlationId: 'c-inv',
  }),
  line({
    service: 'merge',
    level: 'WARN',
    message: 'record quarantined',
    id: '9',
    reason: 'value is not JSON',
  }),
  JSON.stringify({ _aws: { CloudWatchMetrics: [] }, Posted: 1 }),
  'not a log line',
  JSON.stringify({
    timestamp: '2026-11-20T00:00:00.000Z',
    level: 'ERROR',
    service: 'merge',
    message: 'old',
    id: '1',
  }),
].join('\n');

function run(argv: string[], file: string | null = LOCAL_LOG) {
  const printed: string[] = [];
  const progress: string[] = [];
  const clients: CloudWatchLogsClientConfig[] = [];
  const deps: LogsCommandDeps = {
    now: NOW,
    print: (text) => printed.push(text),
    progress: (text) => progress.push(text),
    readFile: () => file ?? undefined,
    cloudWatch: (config) => {
      clients.push(config);
      return new CloudWatchLogsClient({ region: 'eu-west-1', ...config });
    },
  };
  return runLogsCommand(argv, deps).then((code) => ({
    code,
    out: printed.join('\n'),
    progress,
    clients,
  }));
}

describe('npm run logs on the local log file', () => {
  it('prints one id from fetch to Analytics, in order, and nothing else', async () => {
    const { code, out } = await run(['--id', '1']);
    expect(code).toBe(0);
    const rows = out.split('\n').slice(1, -1);
    expect(rows.map((row) => row.split(/\s{2,}/)[3])).toEqual([
      'record published',
      'record published',
      'record joined',
      'payload delivered',
    ]);
    expect(out).toContain('inventory_data[1]@3');
    expect(out).toContain(`${'ab'.repeat(6)}…`);
    expect(out).not.toContain('old');
    expect(out).toMatch(/4 line\(s\)$/);
  });

  it('filters by level, function and correlation id, and prints JSON on request', async () => {
    const warnings = await run(['--level', 'warn', '--json']);
    expect(warnings.out.split('\n').map((text) => JSON.parse(text).message)).toEqual([
      'record quarantined',
    ]);
    const merge = await run(['--function', 'merge', '--correlation-id', 'c-inv', '--json']);
    expect(JSON.parse(merge.out)).toMatchObject({ message: 'payload delivered', id: '1' });
    const all = await run(['--since', '30d', '--id', '1', '--json']);
    expect(all.out.split('\n')).toHaveLength(5);
  });

  it('takes a correlation id as the table shows it (its first 8 digits), and refuses one two runs share', async () => {
    const run1 = '3f2a9c1e-0b6d-4e8a-9f10-1c2d3e4f5a6b';
    const run2 = '3f2a9c1e-77aa-4bbb-8ccc-dddddddddddd';
    const log = [
      line({ service: 'fetch-crm', message: 'record published', id: '1', correlationId: run1 }),
      line({ service: 'merge', message: 'record joined', id: '1', correlationId: run1 }),
      line({ service: 'fetch-crm', message: 'record published', id: '2', correlationId: 'c-crm' }),
    ].join('\n');
    const shown = await run(['--correlation-id', run1.slice(0, 8), '--json'], log);
    expect(shown.code).toBe(0);
    expect(shown.out.split('\n').map((text) => JSON.parse(text).message)).toEqual([
      'record published',
      'record joined',
    ]);
    expect(await run(['--correlation-id', run1, '--json'], log)).toEqual(shown);
    const both = `${log}\n${line({ service: 'merge', message: 'record joined', correlationId: run2 })}`;
    const ambiguous = await run(['--correlation-id', run1.slice(0, 8)], both);
    expect(ambiguous).toMatchObject({
      code: 1,
      out: `--correlation-id 3f2a9c1e is ambiguous: it starts 2 values (${run1}, ${run2}); give more of it`,
    });
    expect((await run(['--correlation-id', run1.slice(0, 10), '--json'], both)).code).toBe(0);
  });

  it('says what to do when there is no log file, and names a bad flag value', async () => {
    const missing = await run([], null);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/^No log file at .*npm run local -- --cycles 1/);
    const since = await run(['--since', 'yesterday']);
    expect(since).toMatchObject({ code: 1 });
    expect(since.out).toBe('--since must be like 15m, 2h, 7d or an ISO time, got "yesterday"');
    const level = await run(['--level', 'loud']);
    expect(level.out).toMatch(/^--level must be one of DEBUG, INFO/);
    const unknown = await run(['--idd', '1']);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toMatch(/Unknown option '--idd'/);
  });
});

describe('Logs Insights queries', () => {
  it('turns each filter into a filter statement, quoting values', () => {
    const query = insightsQuery({ since: NOW, id: 'a"b', correlationId: 'c-1', level: 'WARN' }, 50);
    expect(query.split('\n| ')).toEqual([
      'fields @timestamp, level, service, message, id, correlationId, topic, partition, offset, hash, reason',
      'filter ispresent(level)',
      'filter id = "a\\"b"',
      'filter correlationId = "c-1"',
      'filter level in ["WARN", "ERROR", "CRITICAL"]',
      'sort @timestamp asc',
      'limit 50',
    ]);
  });

  it('looks a shortened correlation id up by its start', () => {
    const query = insightsQuery({ since: NOW, correlationPrefix: '3f2a9c1e' }, 10);
    expect(query.split('\n| ')).toContain('filter correlationId like /^3f2a9c1e/');
  });

  it('reads relative and absolute --since values', () => {
    expect(parseSince('15m', NOW).toISOString()).toBe('2026-11-25T11:45:00.000Z');
    expect(parseSince('2d', NOW).toISOString()).toBe('2026-11-23T12:00:00.000Z');
    expect(parseSince('2026-11-01T00:00:00Z', NOW).toISOString()).toBe('2026-11-01T00:00:00.000Z');
  });

  it('starts the query on the stage log groups and polls until it completes', async () => {
    cloudWatch.on(StartQueryCommand).resolves({ queryId: 'q-1' });
    cloudWatch
      .on(GetQueryResultsCommand)
      .resolvesOnce({ status: 'Running', statistics: { recordsMatched: 0 } })
      .resolves({
        status: 'Complete',
        statistics: { recordsMatched: 1 },
        results: [
          [
            { field: '@timestamp', value: '2026-11-25 11:58:00.000' },
            { field: 'level', value: 'INFO' },
            { field: 'service', value: 'merge' },
            { field: 'message', value: 'payload delivered' },
            { field: 'id', value: '42' },
            { field: 'partition', value: '2' },
            { field: 'offset', value: '17' },
            { field: 'topic', value: 'customer_data' },
            { field: '@ptr', value: 'opaque' },
          ],
        ],
      });
    const { code, out, progress } = await run([
      '--aws',
      '--stage',
      'prod',
      '--function',
      'merge',
      '--id',
      '42',
      '--since',
      '2h',
    ]);
    expect(code).toBe(0);
    const start = cloudWatch.commandCalls(StartQueryCommand)[0]?.args[0].input;
    expect(start).toMatchObject({
      logGroupNames: ['/prod-pipeline/merge'],
      startTime: NOW.getTime() / 1000 - 7200,
      endTime: NOW.getTime() / 1000,
    });
    expect(start?.queryString).toContain('filter id = "42"');
    expect(cloudWatch.commandCalls(GetQueryResultsCommand)).toHaveLength(2);
    expect(out).toContain('customer_data[2]@17');
    expect(progress.at(-1)).toBe('query Complete: 1 matched');
  });

  it('reads every pipeline log group when no function is named', async () => {
    cloudWatch.on(StartQueryCommand).resolves({ queryId: 'q-2' });
    cloudWatch.on(GetQueryResultsCommand).resolves({ status: 'Complete', results: [] });
    const { out } = await run(['--aws']);
    expect(cloudWatch.commandCalls(StartQueryCommand)[0]?.args[0].input.logGroupNames).toEqual([
      '/dev-pipeline/fetch-crm',
      '/dev-pipeline/fetch-inventory',
      '/dev-pipeline/merge',
      '/dev-pipeline/replay',
      '/dev-pipeline/redrive',
      '/dev-pipeline/sweep-main',
    ]);
    expect(out).toBe('No log lines match.');
  });

  it('fails with the query id when the query fails', async () => {
    cloudWatch.on(StartQueryCommand).resolves({ queryId: 'q-3' });
    cloudWatch.on(GetQueryResultsCommand).resolves({ status: 'Failed' });
    await expect(
      queryInsights(new CloudWatchLogsClient({ region: 'eu-west-1' }), {
        logGroupNames: ['/dev-pipeline/merge'],
        filter: { since: NOW },
        limit: 10,
        now: NOW,
        pollMs: 1,
      }),
    ).rejects.toThrow(new LogQueryError('Logs Insights query q-3 ended with status Failed'));
  });
});

describe('npm run logs -- --localstack', () => {
  const event = (fields: Record<string, unknown>, prefix = '') => ({
    timestamp: NOW.getTime() - 60_000,
    message: `${prefix}${line(fields)}`,
  });

  it("reads the local stage's log groups from LocalStack's gateway and filters the lines here", async () => {
    cloudWatch.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    cloudWatch.on(FilterLogEventsCommand).resolves({ events: [] });
    cloudWatch
      .on(FilterLogEventsCommand, { logGroupName: '/local-pipeline/merge' })
      .resolvesOnce({
        events: [
          event({ service: 'merge', message: 'record joined', id: '7' }),
          event({ service: 'merge', message: 'record joined', id: '8' }),
        ],
        nextToken: 'page-2',
      })
      .resolves({
        // As the Lambda runtime writes a line it prefixes: time, request id, level, then JSON.
        events: [
          event(
            { service: 'merge', message: 'payload delivered', id: '7' },
            '2026-11-25\tabc\tINFO\t',
          ),
          { timestamp: NOW.getTime(), message: 'REPORT RequestId: abc Duration: 3 ms' },
        ],
      });
    const { code, out, clients } = await run(['--localstack', '--id', '7', '--json']);
    expect(code).toBe(0);
    expect(clients).toEqual([
      expect.objectContaining({ endpoint: 'http://localhost:4566', region: 'us-east-1' }),
    ]);
    const groups = cloudWatch
      .commandCalls(FilterLogEventsCommand)
      .map((call) => call.args[0].input.logGroupName);
    expect([...new Set(groups)]).toEqual([
      '/local-pipeline/fetch-crm',
      '/local-pipeline/fetch-inventory',
      '/local-pipeline/merge',
      '/local-pipeline/replay',
      '/local-pipeline/redrive',
      '/local-pipeline/sweep-main',
    ]);
    expect(
      cloudWatch.commandCalls(FilterLogEventsCommand, { logGroupName: '/local-pipeline/merge' })[1]
        ?.args[0].input,
    ).toMatchObject({ nextToken: 'page-2', startTime: NOW.getTime() - 3_600_000 });
    expect(out.split('\n').map((text) => JSON.parse(text).message)).toEqual([
      'record joined',
      'payload delivered',
    ]);
  });

  it("also reads Lambda's default log groups of the stack's functions, filtering on the service", async () => {
    cloudWatch
      .on(DescribeLogGroupsCommand, {
        logGroupNamePrefix: '/aws/lambda/local-kafka-merge-pipeline-',
      })
      .resolves({ logGroups: [{ logGroupName: '/aws/lambda/local-kafka-merge-pipeline-Merge1' }] });
    cloudWatch.on(FilterLogEventsCommand).resolves({ events: [] });
    cloudWatch
      .on(FilterLogEventsCommand, { logGroupName: '/aws/lambda/local-kafka-merge-pipeline-Merge1' })
      .resolves({
        events: [
          event({ service: 'merge', message: 'payload delivered', id: '3' }),
          event({ service: 'fetch-crm', message: 'record published', id: '3' }),
        ],
      });
    const { out } = await run(['--localstack', '--function', 'merge', '--json']);
    expect(out.split('\n').map((text) => JSON.parse(text).service)).toEqual(['merge']);
  });

  it('says which log groups do not exist yet, and takes another endpoint and stage', async () => {
    cloudWatch.on(DescribeLogGroupsCommand).resolves({});
    cloudWatch
      .on(FilterLogEventsCommand)
      .rejects(new ResourceNotFoundException({ message: 'missing', $metadata: {} }));
    const { code, out, progress, clients } = await run([
      '--localstack',
      '--endpoint',
      'http://127.0.0.1:4600',
      '--stage',
      'other',
      '--function',
      'merge',
    ]);
    expect(code).toBe(0);
    expect(clients[0]?.endpoint).toBe('http://127.0.0.1:4600');
    expect(progress).toContain('/other-pipeline/merge: no such log group yet (has it run?)');
    expect(out).toBe('No log lines match.');
  });

  it('refuses --aws with --localstack', async () => {
    const { code, out } = await run(['--aws', '--localstack']);
    expect(code).toBe(1);
    expect(out).toBe('--aws and --localstack name two sources: give one');
  });
});
