import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createFetchHandler } from '../../functions/fetch/handler.ts';
import { buildFetchRuntime } from '../../functions/fetch/runtime.ts';
import { buildMergeRuntime } from '../../functions/merge/runtime.ts';
import { sampleCustomers } from '../../local/mocks/dataset.ts';
import { SourceMock } from '../../local/mocks/servers.ts';
import { loadFetchConfig, loadMergeConfig } from '../../shared/config.ts';
import { DependencyUnavailableError } from '../../shared/errors.ts';
import { testServices } from '../support/factories.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const quiet = { LOG_LEVEL: 'SILENT', METRICS: 'off' };

/** Runs `npm run local -- --cycles 1` with these settings; resolves with its exit code and stderr. */
function runLocal(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return run('npx', ['tsx', 'local/cli.ts', '--cycles', '1'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => error,
  );
}

describe('when a dependency is not there', () => {
  it('the merge function fails at once with the Redis address it tried', async () => {
    const runtime = buildMergeRuntime(
      loadMergeConfig({
        ...quiet,
        KAFKA_BROKERS: testServices().brokers,
        REDIS_URL: 'redis://:s3cret@127.0.0.1:1',
        ANALYTICS_URL: 'http://127.0.0.1:1/analytics',
      }),
    );
    const started = Date.now();
    const error = await runtime.ready().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).message).toMatch(
      /^Redis is not reachable at redis:\/\/:\*\*\*@127\.0\.0\.1:1: /,
    );
    expect((error as Error).message).not.toContain('s3cret');
    // The ioredis error it was translated from stays as its cause.
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(10_000);
    await runtime.close();
  });

  it('the fetch function fails with the Kafka address it tried, after bounded retries', async () => {
    const crm = await new SourceMock('/customers', sampleCustomers(5)).start();
    const runtime = buildFetchRuntime(
      loadFetchConfig({
        ...quiet,
        KAFKA_BROKERS: '127.0.0.1:1',
        SOURCE: 'crm',
        SOURCE_BASE_URL: crm.url,
      }),
    );
    try {
      const error = await createFetchHandler(runtime)(undefined).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyUnavailableError);
      expect((error as Error).message).toMatch(/^Kafka is not reachable at 127\.0\.0\.1:1: /);
      // The kafkajs error it was translated from stays as its cause.
      expect((error as Error).cause).toBeInstanceOf(Error);
      expect((error as Error).cause).not.toBeInstanceOf(DependencyUnavailableError);
    } finally {
      await runtime.publisher.disconnect();
      await crm.close();
    }
  });

  it('npm run local stops with one line that names the bad setting', async () => {
    const result = await runLocal({ REDIS_URL: 'http://not-redis', KAFKA_BROKERS: '127.0.0.1:1' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'Invalid configuration: REDIS_URL must be redis://host:port or rediss://host:port',
    );
  });

  it('npm run local says what to do when Redis does not answer', async () => {
    const result = await runLocal({
      REDIS_URL: 'redis://127.0.0.1:1',
      KAFKA_BROKERS: '127.0.0.1:1',
    });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^Redis is not reachable at redis:\/\/127\.0\.0\.1:1: .*Start one \(redis-server --daemonize yes\) or point REDIS_URL at one\.$/,
    );
  });
});
