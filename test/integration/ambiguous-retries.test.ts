import { createServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freePort } from '../../local/kafka-broker.ts';
import { AnalyticsMock } from '../../local/mocks/analytics-mock.ts';
import { HttpAnalyticsSink } from '../../shared/adapters/analytics-client.ts';
import { sendHttp } from '../../shared/adapters/http-client.ts';
import type { HttpAttemptFailure } from '../../shared/adapters/http-retry.ts';
import { buildMergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import { aCustomer, aProduct } from '../support/factories.ts';

const POLICY = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20, timeoutMs: 300 };

let mock: AnalyticsMock | undefined;

afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

function aPayload(id: string) {
  const payload = buildMergedPayload(id, { customer: aCustomer(id), inventory: aProduct(id) });
  if (!payload) throw new Error('both sides given, a payload expected');
  return { payload, hash: payloadHash(payload) };
}

async function sinkAt(honourKey: boolean) {
  mock = await new AnalyticsMock().start();
  mock.honourIdempotencyKey = honourKey;
  const retries: (HttpAttemptFailure & { hash: string })[] = [];
  const sink = new HttpAnalyticsSink({
    url: mock.url,
    policy: POLICY,
    onRetry: (failure) => retries.push(failure),
  });
  return { mock, sink, retries };
}

describe('retries after an ambiguous failure, against the Analytics mock over HTTP', () => {
  it('reaches a sink that honours Idempotency-Key once when its answer came after the timeout', async () => {
    const { mock, sink, retries } = await sinkAt(true);
    mock.faults.push({ kind: 'late-answer', afterMs: 600 });
    const { payload, hash } = aPayload('1');

    await expect(sink.post(payload, hash)).resolves.toEqual({ attempts: 2 });

    expect(mock.received.map((entry) => entry.key)).toEqual([hash]);
    expect(mock.stats()).toMatchObject({ received: 1, distinctKeys: 1, repeatedKeys: 1 });
    expect(retries).toEqual([expect.objectContaining({ hash, ambiguous: true, attempt: 1 })]);
  });

  it('loses the answer of a retry that meets a late answer too, at a sink that honours the key', async () => {
    // A lost answer is the connection's fault: the retry is answered from the first answer, late,
    // so the client gives up again, retries again and counts a second ambiguous retry.
    const { mock, sink, retries } = await sinkAt(true);
    mock.faults.push({ kind: 'late-answer', afterMs: 600 }, { kind: 'late-answer', afterMs: 600 });
    const { payload, hash } = aPayload('5');

    await expect(sink.post(payload, hash)).resolves.toEqual({ attempts: 3 });

    expect(mock.stats()).toMatchObject({ received: 1, repeatedKeys: 2 });
    expect(retries.map((failure) => failure.ambiguous)).toEqual([true, true]);
    await vi.waitFor(() =>
      expect(mock.faultsMet.map((fault) => fault.answerLost)).toEqual([true, true]),
    );
    expect(mock.faultsMet).toEqual([
      { kind: 'late-answer', key: hash, payloads: 1, repeat: false, answerLost: true },
      { kind: 'late-answer', key: hash, payloads: 1, repeat: true, answerLost: true },
    ]);
  });

  it('notes a late answer the client still read as not lost', async () => {
    const { mock, sink, retries } = await sinkAt(true);
    mock.faults.push({ kind: 'late-answer', afterMs: 50 });
    const { payload, hash } = aPayload('6');

    await expect(sink.post(payload, hash)).resolves.toEqual({ attempts: 1 });

    expect(retries).toEqual([]);
    expect(mock.faultsMet).toEqual([
      { kind: 'late-answer', key: hash, payloads: 1, repeat: false, answerLost: false },
    ]);
  });

  it('reaches a sink that ignores the key twice, and reports the retry that did it', async () => {
    const { mock, sink, retries } = await sinkAt(false);
    mock.faults.push({ kind: 'reset-after-processing' });
    const { payload, hash } = aPayload('2');

    await sink.post(payload, hash);

    expect(mock.received.map((entry) => entry.key)).toEqual([hash, hash]);
    expect(retries.filter((failure) => failure.ambiguous)).toHaveLength(1);
  });

  it('calls a failure whose answer said so (a 503) not ambiguous', async () => {
    const { mock, sink, retries } = await sinkAt(true);
    mock.faults.push({ kind: 'status', status: 503 });
    const { payload, hash } = aPayload('3');

    await sink.post(payload, hash);

    expect(retries).toEqual([expect.objectContaining({ status: 503, ambiguous: false })]);
    expect(mock.received).toHaveLength(1);
  });

  it('calls a refused connection not ambiguous: the request never left', async () => {
    const port = await freePort();
    const retries: HttpAttemptFailure[] = [];
    const sink = new HttpAnalyticsSink({
      url: `http://127.0.0.1:${port}/analytics`,
      policy: POLICY,
      onRetry: (failure) => retries.push(failure),
    });
    const { payload, hash } = aPayload('4');

    await expect(sink.post(payload, hash)).rejects.toThrow(/ECONNREFUSED/);
    expect(retries.length).toBe(POLICY.maxAttempts - 1);
    expect(retries.every((failure) => failure.ambiguous === false)).toBe(true);
  });

  it('reads an answer that arrived while the event loop was busy, instead of timing out', async () => {
    // The server answers at once, then this process is busy (as a merge validating a large
    // batch would be) past the client's timeout, while the answer waits in the socket.
    const server = createServer((socket) => {
      socket.once('data', () => {
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
        const until = Date.now() + 300;
        while (Date.now() < until) {
          // this process's own CPU work, not the server's slowness
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const answer = sendHttp(
        `http://127.0.0.1:${port}/`,
        { method: 'POST', headers: {}, body: '{}' },
        100,
      );
      await expect(answer).resolves.toMatchObject({ status: 200, body: 'ok' });
    } finally {
      server.close();
    }
  });
});
