import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { definitionFor, StyledSourceMock } from '../../local/mocks/styled-source.ts';
import { HttpResponseTooLargeError, sendHttp } from '../../shared/adapters/http-client.ts';
import { requestWithRetry } from '../../shared/adapters/http-retry.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { RedisSyncState } from '../../shared/adapters/redis-sync-state.ts';
import { createAuthenticator } from '../../shared/adapters/source-auth.ts';
import { HttpSourceReader } from '../../shared/adapters/source-reader.ts';
import { PageTooLargeError } from '../../shared/errors.ts';
import type { Log } from '../../shared/logger.ts';
import {
  DEFAULT_MAX_PAGE_BYTES,
  parseSourceDefinitions,
  type SourceDefinition,
} from '../../shared/sources/definition.ts';
import { fetchSource } from '../../shared/use-cases/fetch-source.ts';
import { aCustomer, testServices, uniquePrefix } from '../support/factories.ts';
import { MemorySinks, memoryLog } from '../support/in-memory.ts';

const policy = { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 50, timeoutMs: 10_000 };
const closers: (() => Promise<void>)[] = [];
let redis: Redis;

beforeAll(async () => {
  redis = await connectRedis({ url: testServices().redisUrl });
});
afterAll(() => redis.disconnect());
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A server answering every request with `body` (a Content-Length) or `size` bytes streamed. */
async function aServer(answer: { body: string } | { streamed: number }) {
  const seen = { requests: 0, written: 0 };
  const server: Server = createServer((_req, res) => {
    seen.requests++;
    if ('body' in answer) {
      res
        .writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(answer.body),
        })
        .end(answer.body);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(16_384, 0x20);
    const pump = () => {
      while (seen.written < answer.streamed && !res.destroyed) {
        seen.written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen };
}

describe('a response body limit, enforced while reading', () => {
  it('reads a body of exactly the limit', async () => {
    const { url } = await aServer({ body: 'x'.repeat(2048) });
    const answer = await sendHttp(
      url,
      { method: 'GET', headers: {}, maxResponseBytes: 2048 },
      5_000,
    );
    expect(answer.body).toHaveLength(2048);
  });

  it('refuses a Content-Length over the limit before reading the body', async () => {
    const { url } = await aServer({ body: 'x'.repeat(2049) });
    const refused = sendHttp(url, { method: 'GET', headers: {}, maxResponseBytes: 2048 }, 5_000);
    await expect(refused).rejects.toThrow(HttpResponseTooLargeError);
    await expect(refused).rejects.toMatchObject({
      limitBytes: 2048,
      seenBytes: 2049,
      announced: true,
    });
  });

  it('stops reading a streamed body at the limit and closes the connection', async () => {
    // 40 MB: well past the limit, and small enough that a client without one fails, not hangs.
    const { url, seen } = await aServer({ streamed: 40 * 1024 * 1024 });
    const limit = 1024 * 1024;
    const refused = sendHttp(url, { method: 'GET', headers: {}, maxResponseBytes: limit }, 10_000);
    await expect(refused).rejects.toMatchObject({
      name: 'HttpResponseTooLargeError',
      announced: false,
    });
    const error = (await refused.catch((e: unknown) => e)) as HttpResponseTooLargeError;
    expect(error.seenBytes).toBeGreaterThan(limit);
    expect(error.seenBytes).toBeLessThan(limit + 1024 * 1024);
    // The server could write no more than the client read plus the sockets' buffers.
    expect(seen.written).toBeLessThan(32 * 1024 * 1024);
  });

  it('is not retried: the same request would be as large again', async () => {
    const { url, seen } = await aServer({ body: 'x'.repeat(5000) });
    const retried = requestWithRetry(
      url,
      { method: 'GET', headers: {}, maxResponseBytes: 4096 },
      { policy },
    );
    await expect(retried).rejects.toThrow(HttpResponseTooLargeError);
    expect(seen.requests).toBe(1);
  });
});

describe('maxPageBytes of a source', () => {
  function crmOver(mock: StyledSourceMock, maxPageBytes?: number): SourceDefinition {
    const [source] = parseSourceDefinitions([
      {
        name: 'crm',
        side: 'customer',
        ...definitionFor(mock, { pageSize: 5 }),
        ...(maxPageBytes !== undefined && { maxPageBytes }),
      },
    ]);
    if (!source) throw new Error('no definition');
    return source;
  }

  it('defaults to 8 MiB and refuses a value outside 1 KiB to 32 MiB, naming the field', () => {
    const base = { name: 's', url: 'http://h/r' };
    expect(parseSourceDefinitions([base])[0]?.maxPageBytes).toBe(DEFAULT_MAX_PAGE_BYTES);
    expect(DEFAULT_MAX_PAGE_BYTES).toBe(8 * 1024 * 1024);
    expect(() => parseSourceDefinitions([{ ...base, maxPageBytes: 100 }])).toThrow(
      /source "s": maxPageBytes /,
    );
    expect(() => parseSourceDefinitions([{ ...base, maxPageBytes: 64 * 1024 * 1024 }])).toThrow(
      /source "s": maxPageBytes /,
    );
  });

  it('a 200 MB page fails the run naming the source, URL and limit; page 1 stays published, the cursor unmoved', async () => {
    const records = Array.from({ length: 12 }, (_, i) => ({
      ...aCustomer(String(i + 1)),
      updatedAt: `2025-01-01T00:00:${String(10 + i)}.000Z`,
    }));
    const mock = await new StyledSourceMock({
      paging: 'page',
      records,
      changeParam: 'updatedSince',
    }).start();
    closers.push(() => mock.close());
    const source = crmOver(mock);
    const state = new RedisSyncState(redis, uniquePrefix('cap'));
    const run = (sinks: MemorySinks) =>
      fetchSource({
        source,
        topic: 'crm_data',
        endpoint: source.url ?? '',
        reader: new HttpSourceReader({
          source,
          policy,
          pageSize: 5,
          auth: createAuthenticator('crm', source.auth, undefined, policy),
        }),
        publisher: sinks,
        quarantine: sinks,
        log: memoryLog() as unknown as Log,
        correlationId: 'cap',
        pageSize: 5,
        maxPages: 100,
        maxRecordBytes: 100_000,
        state,
      });
    await run(new MemorySinks());
    const cursor = await state.readCursor('crm');
    expect(cursor).toBe(Date.parse('2025-01-01T00:00:21.000Z'));

    // Everything changes; the second page of the next run is 200 MB.
    mock.options.records = records.map((r) => ({ ...r, updatedAt: '2025-02-01T00:00:00.000Z' }));
    mock.options.hugePage = { page: 2, bytes: 200 * 1024 * 1024 };
    const sinks = new MemorySinks();
    const failed = await run(sinks).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(PageTooLargeError);
    expect((failed as Error).message).toMatch(
      new RegExp(
        `source "crm": the page at ${mock.url}/records\\?\\S*\\bpage=2\\b\\S* is larger than its maxPageBytes limit of 8388608 bytes`,
      ),
    );
    expect(sinks.published.get('crm_data')?.map((m) => m.key)).toEqual(['1', '2', '3', '4', '5']);
    expect(await state.readCursor('crm')).toBe(cursor);
    expect(mock.hugeBytesSent).toBeLessThan(64 * 1024 * 1024);
  });
});
