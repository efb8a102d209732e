import { createServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HttpAnalyticsSink } from '../../shared/adapters/analytics-client.ts';
import { HttpBatchAnalyticsSink } from '../../shared/adapters/batch-analytics-client.ts';
import { HttpExchangeError } from '../../shared/adapters/http-client.ts';
import { HttpRetriesExhausted } from '../../shared/adapters/http-retry.ts';
import { buildMergedPayload, type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import type { RetryPolicy } from '../../shared/domain/retry-policy.ts';
import { AnalyticsDeliveryError, PipelineError } from '../../shared/errors.ts';
import { createLogger, rootCauseOf } from '../../shared/logger.ts';
import { aCustomer, aProduct } from '../support/factories.ts';

const POLICY: RetryPolicy = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, timeoutMs: 2_000 };
const payload = buildMergedPayload('1', {
  customer: aCustomer('1'),
  inventory: aProduct('1'),
}) as MergedPayload;

/** A URL on a port nobody listens on (a server bound, then closed): connections are refused. */
async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/analytics/data`;
}

/** The chain of causes, outermost first. */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let at = error; at !== undefined; at = (at as Error).cause) chain.push(at);
  return chain;
}

/** Keeps what the logger writes (ERROR lines go to stderr). */
function captureLines(lines: string[]): void {
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation(((chunk: string) => {
      lines.push(String(chunk));
      return true;
    }) as typeof stream.write);
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('an error translated at a boundary keeps what it came from', () => {
  it('single mode: AnalyticsDeliveryError <- HttpRetriesExhausted <- HttpExchangeError <- the socket error', async () => {
    const sink = new HttpAnalyticsSink({ url: await refusingUrl(), policy: POLICY });
    const error = await sink.post(payload, payloadHash(payload)).catch((e: unknown) => e);
    const [delivery, retries, exchange, socket] = causes(error);
    expect(delivery).toBeInstanceOf(AnalyticsDeliveryError);
    expect(retries).toBeInstanceOf(HttpRetriesExhausted);
    expect(exchange).toBeInstanceOf(HttpExchangeError);
    expect((socket as { code?: string }).code).toBe('ECONNREFUSED');
    expect(rootCauseOf(delivery as Error)).toMatch(/^Error: connect ECONNREFUSED 127\.0\.0\.1:/);
  });

  it('batch mode: the same chain under the batch client', async () => {
    const sink = new HttpBatchAnalyticsSink({
      url: await refusingUrl(),
      policy: POLICY,
      format: {
        maxEvents: 10,
        maxBytes: 100_000,
        body: 'array',
        envelopeField: 'events',
        eventIdField: 'eventId',
      },
    });
    const error = await sink
      .postBatch([{ id: 'h1', json: JSON.stringify(payload) }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnalyticsDeliveryError);
    expect((error as Error).cause).toBeInstanceOf(HttpRetriesExhausted);
    expect(rootCauseOf(error as Error)).toContain('ECONNREFUSED');
  });

  it('a log line of the error shows its root cause, and the chain under `cause`', async () => {
    const sink = new HttpAnalyticsSink({ url: await refusingUrl(), policy: POLICY });
    const error = await sink.post(payload, payloadHash(payload)).catch((e: unknown) => e);
    const lines: string[] = [];
    captureLines(lines);
    createLogger('causes', 'INFO').error('merge batch failed', { error: error as Error });
    vi.restoreAllMocks();
    const line = JSON.parse(lines.join('')) as {
      error: {
        name: string;
        stack: string;
        rootCause: string;
        cause: { name: string; cause: { name: string } };
      };
    };
    expect(line.error.name).toBe('AnalyticsDeliveryError');
    expect(line.error.stack).toMatch(/^AnalyticsDeliveryError: POST to Analytics failed/);
    expect(line.error.rootCause).toMatch(/^Error: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    expect(line.error.cause.name).toBe('HttpRetriesExhausted');
    expect(line.error.cause.cause.name).toBe('HttpExchangeError');
    // The error logged is not changed by the line.
    expect(Object.hasOwn(error as Error, 'rootCause')).toBe(false);
  });

  it('an error without a cause is logged as before, with no rootCause', () => {
    const lines: string[] = [];
    captureLines(lines);
    createLogger('causes', 'INFO').error('failed', { error: new PipelineError('plain') });
    vi.restoreAllMocks();
    const line = JSON.parse(lines.join('')) as { error: Record<string, unknown> };
    expect(line.error).toMatchObject({ name: 'PipelineError', message: 'plain' });
    expect(line.error).not.toHaveProperty('rootCause');
  });

  it('follows a cycle of causes no further than it must', () => {
    const a = new PipelineError('a');
    const b = new PipelineError('b', { cause: a });
    Object.defineProperty(a, 'cause', { value: b });
    expect(rootCauseOf(b)).toMatch(/^PipelineError: [ab]$/);
  });
});
