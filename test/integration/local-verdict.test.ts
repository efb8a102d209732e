import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  OriginalApiMock,
  originalCustomers,
  originalProducts,
} from '../../local/mocks/original-api.ts';
import { SOURCES } from '../../shared/sources/registry.ts';
import { testServices } from '../support/factories.ts';

/*
 * `npm run local` against a server speaking the original APIs (integer ids, updatedAt null), as a
 * new user runs it: its exit code, its verdict and its progress line.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
let original: OriginalApiMock | undefined;
let dir: string | undefined;

afterEach(async () => {
  await original?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  original = undefined;
  dir = undefined;
});

type Outcome = { code: number; stdout: string; stderr: string };

function runLocal(args: string[]): Promise<Outcome> {
  const { brokers, redisUrl } = testServices();
  return run('npx', ['tsx', 'local/cli.ts', '--cycles', '1', '--interval', '0ms', ...args], {
    cwd: ROOT,
    env: { ...process.env, KAFKA_BROKERS: brokers, REDIS_URL: redisUrl, METRICS: 'off' },
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: Outcome) => error,
  );
}

async function anOriginalServer(records: number) {
  original = await new OriginalApiMock(
    originalCustomers(records),
    originalProducts(records),
  ).start();
  return original;
}

describe('the local verdict against the original APIs', () => {
  it('delivers every pair once with the default definitions and exits 0', async () => {
    const server = await anOriginalServer(10);
    const outcome = await runLocal([
      '--crm-url',
      `${server.url}/customers`,
      '--inventory-url',
      `${server.url}/products`,
      '--analytics-url',
      `${server.url}/analytics/data`,
      '--quiet',
    ]);
    expect(outcome.stdout).toContain(
      'OK: all 5 ids present in every required source were delivered exactly once (no duplicates).',
    );
    expect(outcome.stdout).not.toContain('Quarantined:');
    expect(outcome.code).toBe(0);
    // Odd ids 1..9 are in both: each pair once, at the server itself.
    const ids = server.received.map((body) => (body as { id: string }).id).sort();
    expect(ids).toEqual(['1', '3', '5', '7', '9']);
  });

  it('a run whose every record is quarantined exits 1 and says why', async () => {
    const server = await anOriginalServer(10);
    dir = await mkdtemp(join(tmpdir(), 'verdict-'));
    const config = join(dir, 'pipeline.json');
    // The run: sources that refuse number ids, served nothing but number ids.
    const strict = { path: 'id', numbers: 'reject' };
    await writeFile(
      config,
      JSON.stringify({
        sources: [
          { ...SOURCES.crm, path: undefined, url: `${server.url}/customers`, id: strict },
          { ...SOURCES.inventory, path: undefined, url: `${server.url}/products`, id: strict },
        ],
        analyticsUrl: `${server.url}/analytics/data`,
      }),
    );
    const outcome = await runLocal(['--config', config, '--quiet']);
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toContain(
      'FAILED: nothing was delivered although the sources sent 20 record(s): every one was quarantined at fetch (first reasons: "id: is the number 1; this source declares id.numbers \\"reject\\" (string ids only)"',
    );
    // The two fetches run at once: the sources come in the order their entries reached the topic.
    expect(outcome.stdout).toMatch(
      /Quarantined: 20 record\(s\), never delivered and not in that count: .*\bcrm at fetch: 10 \(first: /,
    );
    expect(outcome.stdout).toMatch(
      /Quarantined: 20 record\(s\), never delivered and not in that count: .*\binventory at fetch: 10 \(first: /,
    );
    expect(outcome.stderr).toContain('quarantined 20 (fetch 20, merge 0)');
    expect(server.received).toEqual([]);
  });
});
