import {
  CloudWatchLogsClient,
  GetQueryResultsCommand,
  StartQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { QueryString } from 'aws-cdk-lib/aws-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { type LogsCommandDeps, runLogsCommand } from '../../tools/logs/cli.ts';
import {
  HASH_PLACEHOLDER,
  PAYLOAD_LINEAGE_QUERY,
  PAYLOAD_LINEAGE_QUERY_PARTS,
  payloadLineageQuery,
} from '../../tools/logs/lineage.ts';

const cloudWatch = mockClient(CloudWatchLogsClient);
afterEach(() => cloudWatch.reset());

const NOW = new Date('2026-12-05T12:00:00Z');
const HASH = 'ab'.repeat(32);
const OTHER = 'cd'.repeat(32);
const at = (second: number) => `2026-12-05T11:59:${String(second).padStart(2, '0')}.000Z`;
const line = (second: number, fields: Record<string, unknown>) =>
  JSON.stringify({ timestamp: at(second), level: 'INFO', ...fields });
const SIDES = {
  customer: { topic: 'customer_data', partition: 1, offset: '40', correlationId: 'run-crm' },
  inventory: { topic: 'inventory_data', partition: 0, offset: '7', correlationId: 'run-inv' },
};

const LOG = [
  line(1, { service: 'fetch-crm', message: 'record published', id: '5', correlationId: 'run-crm' }),
  line(1, { service: 'fetch-crm', message: 'record published', id: '6', correlationId: 'run-crm' }),
  line(2, {
    service: 'merge',
    message: 'record joined',
    id: '5',
    ...SIDES.customer,
  }),
  // The same id read again from another offset (a later fetch run): not this payload's record.
  line(3, {
    service: 'merge',
    message: 'record joined',
    id: '5',
    topic: 'customer_data',
    partition: 1,
    offset: '41',
    correlationId: 'run-crm',
  }),
  line(4, {
    service: 'fetch-inventory',
    message: 'record published',
    id: '5',
    correlationId: 'run-inv',
  }),
  line(5, { service: 'merge', message: 'record joined', id: '5', ...SIDES.inventory }),
  line(6, {
    service: 'merge',
    message: 'payload delivered',
    id: '5',
    hash: HASH,
    ...SIDES.inventory,
  }),
  line(6, {
    service: 'merge',
    message: 'payload lineage',
    id: '5',
    hash: HASH,
    outcome: 'posted',
    sides: SIDES,
  }),
  // Another payload of the same id (a later version): its own hash, left out.
  line(7, {
    service: 'merge',
    message: 'payload delivered',
    id: '5',
    hash: OTHER,
    correlationId: 'run-inv',
  }),
].join('\n');

function run(argv: string[], file: string | undefined = LOG) {
  const printed: string[] = [];
  const deps: LogsCommandDeps = {
    now: NOW,
    print: (text) => printed.push(text),
    progress: () => undefined,
    readFile: () => file,
    cloudWatch: (config) => new CloudWatchLogsClient({ region: 'eu-west-1', ...config }),
  };
  return runLogsCommand(argv, deps).then((code) => ({ code, out: printed.join('\n') }));
}

describe('npm run logs -- --payload', () => {
  it("prints the payload's sides and its path from each fetch to the delivery, nothing else", async () => {
    const { code, out } = await run(['--payload', HASH.toUpperCase()]);
    expect(code).toBe(0);
    const [head, customer, inventory] = out.split('\n');
    expect(head).toBe(`payload ${HASH} (id 5)`);
    expect(customer).toBe('  customer: customer_data[1]@40, fetch run run-crm');
    expect(inventory).toBe('  inventory: inventory_data[0]@7, fetch run run-inv');
    const { out: json } = await run(['--payload', HASH, '--json']);
    const path = json.split('\n').map((text) => JSON.parse(text) as Record<string, unknown>);
    expect(path.map((entry) => [entry.service, entry.message, entry.offset])).toEqual([
      ['fetch-crm', 'record published', undefined],
      ['merge', 'record joined', '40'],
      ['fetch-inventory', 'record published', undefined],
      ['merge', 'record joined', '7'],
      ['merge', 'payload delivered', '7'],
      ['merge', 'payload lineage', undefined],
    ]);
  });

  it('says when no lineage line has the hash, and refuses a value that is not one', async () => {
    const missing = await run(['--payload', 'ef'.repeat(32)]);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/^No "payload lineage" line for (ef)+ since /);
    const bad = await run(['--payload', 'abc']);
    expect(bad).toEqual({
      code: 1,
      out: '--payload must be a payload\'s hash (64 hex digits, the Idempotency-Key) or the first 8 or more of them, got "abc"',
    });
    const both = await run(['--payload', HASH, '--id', '5']);
    expect(both.out).toBe('--payload names one payload: give it without --id or --correlation-id');
  });

  it('takes the hash as the table shows it (12 digits and an ellipsis), or any unique prefix of 8 or more', async () => {
    const whole = await run(['--payload', HASH, '--json']);
    for (const shown of [
      `${HASH.slice(0, 12)}…`,
      HASH.slice(0, 8),
      HASH.slice(0, 40).toUpperCase(),
    ]) {
      expect(await run(['--payload', shown, '--json'])).toEqual(whole);
    }
    const none = await run(['--payload', 'ef'.repeat(6)]);
    expect(none.code).toBe(1);
    expect(none.out).toMatch(/^No log line has a payload hash starting efefefefefef since /);
  });

  it('refuses a prefix two payloads share, naming both', async () => {
    const twin = `${'ab'.repeat(6)}${'ff'.repeat(26)}`;
    const log = `${LOG}\n${line(8, { service: 'merge', message: 'payload delivered', id: '6', hash: twin })}`;
    const ambiguous = await run(['--payload', HASH.slice(0, 12)], log);
    expect(ambiguous).toEqual({
      code: 1,
      out: `--payload ${HASH.slice(0, 12)} is ambiguous: it starts 2 values (${HASH}, ${twin}); give more of it`,
    });
    expect((await run(['--payload', HASH.slice(0, 14)], log)).code).toBe(0);
  });

  it('on AWS, a prefix is first looked up by a query of the hashes it starts', async () => {
    cloudWatch
      .on(StartQueryCommand)
      .resolvesOnce({ queryId: 'by-prefix' })
      .resolvesOnce({ queryId: 'by-hash' });
    cloudWatch.on(GetQueryResultsCommand, { queryId: 'by-prefix' }).resolves({
      status: 'Complete',
      results: [
        [
          { field: '@timestamp', value: at(6) },
          { field: 'level', value: 'INFO' },
          { field: 'message', value: 'payload delivered' },
          { field: 'hash', value: HASH },
        ],
      ],
    });
    cloudWatch.on(GetQueryResultsCommand, { queryId: 'by-hash' }).resolves({
      status: 'Complete',
      results: [],
    });
    const { code, out } = await run(['--payload', HASH.slice(0, 12), '--aws']);
    const queries = cloudWatch
      .commandCalls(StartQueryCommand)
      .map((call) => call.args[0].input.queryString);
    expect(queries[0]).toContain(`filter hash like /^${HASH.slice(0, 12)}/`);
    expect(queries[1]).toBe(PAYLOAD_LINEAGE_QUERY.replace(HASH_PLACEHOLDER, HASH));
    expect(code).toBe(1);
    expect(out).toMatch(new RegExp(`^No "payload lineage" line for ${HASH} since `));
  });

  it('on AWS: the lineage query by hash, then the source side by id and fetch runs', async () => {
    const row = (fields: Record<string, string>) =>
      Object.entries(fields).map(([field, value]) => ({ field, value }));
    const lineageLine = JSON.parse(LOG.split('\n')[7] as string) as Record<string, unknown>;
    cloudWatch
      .on(StartQueryCommand)
      .resolvesOnce({ queryId: 'by-hash' })
      .resolvesOnce({ queryId: 'source-side' });
    cloudWatch.on(GetQueryResultsCommand, { queryId: 'by-hash' }).resolves({
      status: 'Complete',
      results: [
        row({
          '@timestamp': at(6),
          level: 'INFO',
          service: 'merge',
          message: 'payload lineage',
          id: '5',
          hash: HASH,
          '@message': `2026-12-05T11:59:06.000Z\treq-1\tINFO\t${JSON.stringify(lineageLine)}`,
        }),
      ],
    });
    cloudWatch.on(GetQueryResultsCommand, { queryId: 'source-side' }).resolves({
      status: 'Complete',
      results: [
        row({
          '@timestamp': at(1),
          level: 'INFO',
          service: 'fetch-crm',
          message: 'record published',
          id: '5',
          correlationId: 'run-crm',
        }),
      ],
    });
    const { code, out } = await run(['--payload', HASH, '--aws', '--stage', 'prod']);
    expect(code).toBe(0);
    const [first, second] = cloudWatch
      .commandCalls(StartQueryCommand)
      .map((call) => call.args[0].input);
    expect(first?.queryString).toBe(PAYLOAD_LINEAGE_QUERY.replace(HASH_PLACEHOLDER, HASH));
    expect(second?.queryString).toContain(
      'filter id = "5" and correlationId in ["run-crm", "run-inv"]',
    );
    expect(out).toContain('  customer: customer_data[1]@40, fetch run run-crm');
    expect(out).toContain('record published');
  });

  it('keeps the query text and the parts infra saves as a query definition the same query', () => {
    expect(new QueryString(PAYLOAD_LINEAGE_QUERY_PARTS).toString()).toBe(PAYLOAD_LINEAGE_QUERY);
    expect(payloadLineageQuery(HASH)).toContain(`filter hash = "${HASH}"`);
    expect(PAYLOAD_LINEAGE_QUERY_PARTS.fields).toContain('@message');
  });
});
