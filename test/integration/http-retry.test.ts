import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpRetriesExhausted, requestWithRetry } from '../../shared/adapters/http-retry.ts';
import type { RetryPolicy } from '../../shared/domain/retry-policy.ts';
import { recordingSleep, ScriptedHttpServer } from '../support/scripted-server.ts';

const POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  timeoutMs: 2_000,
};
const REQUEST = {
  method: 'POST' as const,
  headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1' },
  body: '{"id":"1"}',
};

let server: ScriptedHttpServer;
let clock: ReturnType<typeof recordingSleep>;

beforeAll(async () => {
  server = await new ScriptedHttpServer().start();
});
afterAll(() => server.stop());
beforeEach(() => {
  clock = recordingSleep();
});

/** requestWithRetry against the server, with no real waits and no jitter (random = 0). */
function send(policy: RetryPolicy = POLICY, extra: { now?: () => number } = {}) {
  return requestWithRetry(server.url(), REQUEST, {
    policy,
    sleep: clock.sleep,
    random: () => 0,
    ...extra,
  });
}

describe('requestWithRetry against a real HTTP server', () => {
  it('sends the method, headers and body once and resolves with a 2xx at the first try', async () => {
    server.script({ status: 201, body: 'created' });
    expect(await send()).toMatchObject({ status: 201, body: 'created', attempts: 1 });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({
      method: 'POST',
      url: '/analytics/data',
      body: '{"id":"1"}',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': 'k-1',
        'content-length': '10',
      },
    });
    expect(clock.delays).toEqual([]);
  });

  it('sends a GET with no body and no content-length', async () => {
    server.script({ status: 200, body: '[]' });
    const result = await requestWithRetry(
      server.url('/customers?page=1'),
      { method: 'GET', headers: { accept: 'application/json' } },
      { policy: POLICY, sleep: clock.sleep },
    );
    expect(result).toMatchObject({ status: 200, body: '[]', attempts: 1 });
    expect(server.requests[0]).toMatchObject({ method: 'GET', url: '/customers?page=1', body: '' });
    expect(server.requests[0]?.headers).not.toHaveProperty('content-length');
  });

  it.each([429, 408, 500, 502, 503, 504])(
    'retries a %i and sends the same request again',
    async (status) => {
      server.script({ status }, { status: 200, body: 'ok' });
      expect(await send()).toMatchObject({ status: 200, body: 'ok', attempts: 2 });
      expect(server.requests.map((request) => request.body)).toEqual([REQUEST.body, REQUEST.body]);
      expect(server.requests.map((request) => request.headers['idempotency-key'])).toEqual([
        'k-1',
        'k-1',
      ]);
    },
  );

  it.each([400, 401, 403, 404, 409, 422])(
    'answers a %i at once, without a retry',
    async (status) => {
      server.script({ status, body: 'no' });
      expect(await send()).toMatchObject({ status, body: 'no', attempts: 1 });
      expect(server.requests).toHaveLength(1);
      expect(clock.delays).toEqual([]);
    },
  );

  it('waits as long as Retry-After asks (seconds), up to the longest wait the policy allows', async () => {
    server.script(
      { status: 429, headers: { 'retry-after': '3' } },
      { status: 503, headers: { 'retry-after': '120' } },
      { status: 200 },
    );
    expect((await send()).attempts).toBe(3);
    expect(clock.delays).toEqual([3_000, 5_000]);
  });

  it('reads a Retry-After date against the injected clock', async () => {
    const now = Date.parse('2025-06-01T12:00:00Z');
    server.script(
      { status: 429, headers: { 'retry-after': new Date(now + 4_000).toUTCString() } },
      { status: 200 },
    );
    expect((await send(POLICY, { now: () => now })).attempts).toBe(2);
    expect(clock.delays).toEqual([4_000]);
  });

  it('backs off exponentially with full jitter when the server gives no Retry-After', async () => {
    server.script({ status: 500 }, { status: 500 }, { status: 500 }, { status: 200 });
    const delays: number[] = [];
    const result = await requestWithRetry(server.url(), REQUEST, {
      policy: { ...POLICY, maxDelayMs: 300 },
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 0.5,
    });
    expect(result.attempts).toBe(4);
    expect(delays).toEqual([50, 100, 150]);
  });

  it('throws HttpRetriesExhausted with the last status once every try failed', async () => {
    server.script({ status: 503 }, { status: 503 }, { status: 503 }, { status: 500 });
    const failures: unknown[] = [];
    const error = await requestWithRetry(server.url(), REQUEST, {
      policy: POLICY,
      sleep: clock.sleep,
      random: () => 0,
      onRetry: (failure) => failures.push(failure),
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HttpRetriesExhausted);
    expect(error).toMatchObject({ status: 500, attempts: 4, lastError: 'HTTP 500' });
    expect(server.requests).toHaveLength(4);
    expect(clock.delays).toHaveLength(3);
    expect(failures).toEqual([
      { attempt: 1, status: 503, error: 'HTTP 503', delayMs: 0, ambiguous: false },
      { attempt: 2, status: 503, error: 'HTTP 503', delayMs: 0, ambiguous: false },
      { attempt: 3, status: 503, error: 'HTTP 503', delayMs: 0, ambiguous: false },
    ]);
  });

  it('times out a request that gets no answer, and retries it', async () => {
    server.script('hang', { status: 200, body: 'late but fine' });
    const result = await send({ ...POLICY, timeoutMs: 200 });
    // The request was sent and no answer came: Analytics may have it, so the retry is ambiguous.
    expect(result).toMatchObject({
      status: 200,
      body: 'late but fine',
      attempts: 2,
      ambiguousRetries: 1,
    });
    expect(server.requests).toHaveLength(2);
  });

  it('gives up on a server that never answers, naming the timeout', async () => {
    server.script('hang', 'hang');
    await expect(send({ ...POLICY, maxAttempts: 2, timeoutMs: 150 })).rejects.toMatchObject({
      name: 'HttpRetriesExhausted',
      status: undefined,
      attempts: 2,
      lastError: 'timed out after 150 ms',
    });
  });

  it('retries a connection the server drops', async () => {
    server.script('reset', { status: 200 });
    expect((await send()).attempts).toBe(2);
  });

  it('retries a refused connection and names the error when it persists', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await requestWithRetry(`http://127.0.0.1:${port}/`, REQUEST, {
      policy: { ...POLICY, maxAttempts: 2 },
      sleep: clock.sleep,
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'HttpRetriesExhausted', attempts: 2 });
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect(clock.delays).toHaveLength(1);
  });
});
