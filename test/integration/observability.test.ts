import { afterEach, describe, expect, it, vi } from 'vitest';
import { type LocalDeployment, startLocalDeployment } from '../../local/deployment.ts';
import { createLogger } from '../../shared/logger.ts';
import { parseLogLines } from '../../tools/logs/entries.ts';
import { matches } from '../../tools/logs/filters.ts';
import { testServices, uniquePrefix } from '../support/factories.ts';

type EmfLine = {
  _aws: {
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
  };
  service: string;
  [metric: string]: unknown;
};

let pipeline: LocalDeployment | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await pipeline?.stop();
  pipeline = undefined;
});

/** Runs one cycle at LOG_LEVEL=INFO with metrics on and returns every line written to stdout. */
async function oneCycleOutput(): Promise<string[]> {
  const { brokers, redisUrl } = testServices();
  const prefix = uniquePrefix('obs');
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (text.startsWith('{')) lines.push(...text.split('\n').filter(Boolean));
    else write(chunk);
    return true;
  }) as typeof process.stdout.write);
  pipeline = await startLocalDeployment({
    brokers,
    redisUrl,
    topicPrefix: prefix,
    redisKeyPrefix: prefix,
    records: 12,
    pageSize: 5,
    settings: { LOG_LEVEL: 'INFO', METRICS: 'emf', HTTP_BASE_DELAY_MS: '10' },
    fetchLogger: (source) => createLogger(`fetch-${source}`, 'INFO'),
    mergeLogger: createLogger('merge', 'INFO'),
  });
  const results = await pipeline.runCycle();
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  await pipeline.drain(60_000);
  vi.restoreAllMocks();
  return lines;
}

describe('what the functions write for CloudWatch', () => {
  it('carries ids, Kafka coordinates, hashes and the fetch correlation id through the logs', async () => {
    const lines = await oneCycleOutput();
    const entries = parseLogLines(lines);
    const published = entries.filter((e) => e.message === 'record published');
    expect(published.length).toBeGreaterThan(0);
    for (const entry of published) {
      expect(entry.service).toMatch(/^fetch-(crm|inventory)$/);
      expect(entry).toMatchObject({ id: expect.any(String), topic: expect.any(String) });
      expect(entry.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    }
    const fetchRuns = new Set(published.map((entry) => entry.correlationId));
    expect(fetchRuns.size).toBe(2);

    const joined = entries.filter((e) => e.message === 'record joined');
    expect(joined.length).toBe(published.length);
    for (const entry of joined) {
      expect(entry.service).toBe('merge');
      expect(entry.partition).toEqual(expect.any(Number));
      expect(entry.offset).toMatch(/^\d+$/);
      expect(fetchRuns.has(entry.correlationId)).toBe(true);
    }
    const delivered = entries.filter((e) => e.message === 'payload delivered');
    expect(delivered.length).toBe((await pipeline?.idsInBoth())?.size);
    for (const entry of delivered) expect(entry.hash).toMatch(/^[0-9a-f]{64}$/);

    // One lineage line per delivered payload, by the same hash, naming both fetch runs.
    const lineage = entries.filter((e) => e.message === 'payload lineage');
    expect(lineage.map((e) => e.hash).sort()).toEqual(delivered.map((e) => e.hash).sort());
    for (const entry of lineage) {
      const sides = Object.values(entry.fields.sides as Record<string, { correlationId: string }>);
      expect(new Set(sides.map((side) => side.correlationId))).toEqual(fetchRuns);
    }

    // The trace of one id, as `npm run logs -- --id 1` prints it: both fetches, both joins,
    // delivery and its lineage.
    const trace = entries.filter((e) => matches(e, { since: new Date(0), id: '1' }));
    expect(trace.map((e) => `${e.service}: ${e.message}`).sort()).toEqual([
      'fetch-crm: record published',
      'fetch-inventory: record published',
      'merge: payload delivered',
      'merge: payload lineage',
      'merge: record joined',
      'merge: record joined',
    ]);
  });

  it('writes one summary line per invocation, and never an email address', async () => {
    const lines = await oneCycleOutput();
    const entries = parseLogLines(lines);
    const fetchSummaries = entries.filter((e) => e.message === 'fetch summary');
    expect(fetchSummaries.map((e) => e.service).sort()).toEqual(['fetch-crm', 'fetch-inventory']);
    for (const entry of fetchSummaries) {
      expect(entry.fields.summary).toMatchObject({
        fetched: expect.any(Number),
        published: expect.any(Number),
        quarantined: 0,
        pages: 3,
      });
    }
    const mergeSummaries = entries.filter((e) => e.message === 'merge summary');
    const batches = pipeline?.totals.merge.batches ?? 0;
    expect(mergeSummaries).toHaveLength(batches);
    const posted = mergeSummaries.reduce(
      (sum, e) => sum + ((e.fields.summary as { posted: number }).posted ?? 0),
      0,
    );
    expect(posted).toBe((await pipeline?.analytics.receipts())?.length);
    expect(lines.join('\n')).not.toMatch(/[a-z]{2,}\.[a-z]+\d*@example\.com/);
  });

  it('emits EMF metrics per source and for the merge, in the dashboard namespace', async () => {
    const lines = await oneCycleOutput();
    const emf = lines
      .filter((line) => line.startsWith('{"_aws"'))
      .map((line) => JSON.parse(line) as EmfLine);
    const names = (service: string) =>
      new Set(
        emf
          .filter((line) => line.service === service)
          .flatMap((line) =>
            line._aws.CloudWatchMetrics.flatMap((m) => m.Metrics.map((x) => x.Name)),
          ),
      );
    for (const line of emf)
      expect(line._aws.CloudWatchMetrics[0]?.Namespace).toBe('KafkaMergePipeline');
    for (const source of ['fetch-crm', 'fetch-inventory']) {
      expect([...names(source)]).toEqual(
        expect.arrayContaining([
          'FetchSucceeded',
          'Fetched',
          'Published',
          'Quarantined',
          'Retries',
        ]),
      );
    }
    expect([...names('merge')]).toEqual(
      expect.arrayContaining([
        'BatchSize',
        'Merged',
        'Posted',
        'DuplicatesSkipped',
        'DeadLettered',
        'AnalyticsLatency',
      ]),
    );
    const crm = emf.find((line) => line.service === 'fetch-crm');
    expect(crm?.Published).toBe((await pipeline?.crm.records())?.length);
  });
});

describe('masking', () => {
  it('masks emails anywhere and secrets by key in what the logger writes', () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stdout.write);
    const logger = createLogger('merge', 'INFO');
    logger.info('contact ada.lovelace@example.com', {
      customer: { email: 'grace.hopper@navy.mil', token: 's3cr3t' },
      password: 'hunter2',
    });
    vi.restoreAllMocks();
    const line = JSON.parse(lines.join('')) as Record<string, unknown>;
    expect(line.message).toBe('contact a***@e***.com');
    expect(line.customer).toEqual({ email: 'g***@n***.mil', token: '***' });
    expect(line.password).toBe('***');
  });
});
