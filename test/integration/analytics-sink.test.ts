import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpAnalyticsSink } from '../../shared/adapters/analytics-client.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import type { DecodedRecord } from '../../shared/domain/kafka-record.ts';
import { type MergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import type { RetryPolicy } from '../../shared/domain/retry-policy.ts';
import { AnalyticsDeliveryError } from '../../shared/errors.ts';
import type { Log } from '../../shared/logger.ts';
import { BUILT_IN_JOIN, sourceForTopic } from '../../shared/sources/registry.ts';
import { mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { MemoryCache, MemoryJoinStore, MemorySinks, memoryLog } from '../support/in-memory.ts';
import { recordingSleep, ScriptedHttpServer } from '../support/scripted-server.ts';

const POLICY: RetryPolicy = {
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  timeoutMs: 2_000,
};

let server: ScriptedHttpServer;
let clock: ReturnType<typeof recordingSleep>;

beforeAll(async () => {
  server = await new ScriptedHttpServer().start();
});
afterAll(() => server.stop());
beforeEach(() => {
  clock = recordingSleep();
  server.script();
});

const aPayload = (id: string): MergedPayload => ({
  id,
  customer: aCustomer(id),
  inventory: aProduct(id),
});

function sink(options: { token?: string; policy?: RetryPolicy } = {}) {
  return new HttpAnalyticsSink({
    url: server.url(),
    policy: options.policy ?? POLICY,
    sleep: clock.sleep,
    ...(options.token !== undefined && { token: async () => options.token }),
  });
}

const keysReceived = () => server.requests.map((request) => request.headers['idempotency-key']);

describe('HttpAnalyticsSink against a real HTTP server', () => {
  it('POSTs the payload as JSON with its identity as Idempotency-Key and the bearer token', async () => {
    const payload = aPayload('1');
    expect(await sink({ token: 's3cret' }).post(payload, payloadHash(payload))).toEqual({
      attempts: 1,
    });
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(JSON.parse(request?.body ?? '')).toEqual(payload);
    expect(request?.headers).toMatchObject({
      'content-type': 'application/json',
      'idempotency-key': payloadHash(payload),
      authorization: 'Bearer s3cret',
    });
  });

  it('sends no authorization header when there is no token', async () => {
    const payload = aPayload('1');
    await sink().post(payload, payloadHash(payload));
    expect(server.requests[0]?.headers).not.toHaveProperty('authorization');
  });

  it('retries a 429 and a 5xx with the same Idempotency-Key, obeying Retry-After', async () => {
    server.script(
      { status: 429, headers: { 'retry-after': '2' } },
      { status: 502 },
      { status: 200 },
    );
    const payload = aPayload('1');
    expect(await sink().post(payload, payloadHash(payload))).toEqual({ attempts: 3 });
    expect(keysReceived()).toEqual(Array(3).fill(payloadHash(payload)));
    expect(clock.delays[0]).toBe(2_000);
    expect(clock.delays).toHaveLength(2);
  });

  it('refuses a 4xx at once with the status and the start of the body', async () => {
    server.script({ status: 422, body: '{"error":"customer.email is invalid"}' });
    const payload = aPayload('1');
    const error = await sink()
      .post(payload, payloadHash(payload))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AnalyticsDeliveryError);
    expect(error).toMatchObject({
      status: 422,
      attempts: 1,
      message:
        'POST to Analytics failed after 1 attempt(s): HTTP 422 {"error":"customer.email is invalid"}',
    });
    expect(server.requests).toHaveLength(1);
    expect(clock.delays).toEqual([]);
  });

  it('does not count a redirect as delivered, and keeps the first 200 characters of the body', async () => {
    server.script({ status: 302, headers: { location: '/elsewhere' }, body: 'y'.repeat(300) });
    const payload = aPayload('1');
    await expect(sink().post(payload, payloadHash(payload))).rejects.toMatchObject({
      name: 'AnalyticsDeliveryError',
      status: 302,
      attempts: 1,
      message: `POST to Analytics failed after 1 attempt(s): HTTP 302 ${'y'.repeat(200)}`,
    });
  });

  it('reports each retry with the payload hash, for the retry log line and metric', async () => {
    server.script({ status: 503 }, { status: 200 });
    const retries: unknown[] = [];
    const payload = aPayload('1');
    await new HttpAnalyticsSink({
      url: server.url(),
      policy: POLICY,
      sleep: clock.sleep,
      onRetry: (failure) => retries.push(failure),
    }).post(payload, payloadHash(payload));
    expect(retries).toEqual([
      {
        attempt: 1,
        status: 503,
        error: 'HTTP 503',
        delayMs: expect.any(Number),
        hash: payloadHash(payload),
        // Analytics answered, so it did not take the payload: retrying cannot duplicate it.
        ambiguous: false,
      },
    ]);
  });

  it('fails with the last status after the retries when Analytics keeps answering 503', async () => {
    server.script({ status: 503 }, { status: 503 }, { status: 503 });
    const payload = aPayload('1');
    await expect(sink().post(payload, payloadHash(payload))).rejects.toMatchObject({
      name: 'AnalyticsDeliveryError',
      status: 503,
      attempts: 3,
    });
    expect(server.requests).toHaveLength(3);
  });

  it('re-sends the same Idempotency-Key after a timeout, so a sink that honours it sees one payload', async () => {
    server.script('hang', { status: 200 });
    const payload = aPayload('1');
    expect(
      await sink({ policy: { ...POLICY, timeoutMs: 200 } }).post(payload, payloadHash(payload)),
    ).toEqual({ attempts: 2 });
    expect(keysReceived()).toEqual([payloadHash(payload), payloadHash(payload)]);
  });

  it('gets, through the merge, an Idempotency-Key equal to the identity of the body it carries', async () => {
    const log = memoryLog() as unknown as Log;
    const sinks = new MemorySinks();
    const delivery = new IdempotentDelivery({
      cache: new MemoryCache(),
      analytics: sink(),
      ttlSeconds: 60,
      keyPrefix: 'sink:',
      concurrency: 1,
    });
    delivery.registerInvocation({ getRemainingTimeInMillis: () => 30_000 });
    server.script({ status: 500 });
    const records: DecodedRecord[] = ['1', '2'].flatMap((id, index) => [
      aRecord('customer_data', aCustomer(id), index * 2),
      aRecord('inventory_data', aProduct(id), index * 2 + 1),
    ]);
    const summary = await mergeBatch(records, {
      joinStore: new MemoryJoinStore(),
      join: BUILT_IN_JOIN,
      delivery,
      deadLetter: sinks,
      quarantine: sinks,
      log,
      sourceForTopic,
      maxRecordBytes: 10_000,
    });
    expect(summary).toMatchObject({ posted: 2, deadLettered: 0 });
    expect(server.requests).toHaveLength(3);
    for (const request of server.requests) {
      const body = JSON.parse(request.body) as MergedPayload;
      expect(request.headers['idempotency-key']).toBe(payloadHash(body));
    }
  });
});

function aRecord(topic: string, value: object, offset: number): DecodedRecord {
  return {
    topic,
    partition: 0,
    offset: String(offset),
    timestamp: Date.now(),
    key: (value as { id: string }).id,
    value: JSON.stringify(value),
    headers: { 'fetched-at': new Date().toISOString() },
  };
}
