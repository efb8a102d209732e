import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalDeployment, startLocalDeployment } from '../../local/deployment.ts';
import { commandLine, operatorCommands } from '../../local/operator-commands.ts';
import { testServices, uniquePrefix } from '../support/factories.ts';

/*
 * The commands `npm run local` prints at start, pasted into another shell while the run is up:
 * with nothing of the pipeline's in that shell's environment, they work on this run.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
let pipeline: LocalDeployment | undefined;

afterEach(async () => {
  await pipeline?.stop();
  await pipeline?.deleteState();
  pipeline = undefined;
});

/** Runs a pasted line in a shell whose environment holds no pipeline setting. */
async function paste(line: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? '/tmp',
    METRICS: 'off',
    LOG_LEVEL: 'SILENT',
  };
  return run('sh', ['-c', line], { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe('the replay and re-drive commands of a running local deployment', () => {
  it("replay this run's dead letters into its Analytics, and re-drive its failed topics", async () => {
    const { brokers, redisUrl } = testServices();
    const prefix = uniquePrefix('operator');
    pipeline = await startLocalDeployment({
      brokers,
      redisUrl,
      topicPrefix: prefix,
      redisKeyPrefix: prefix,
      records: 6,
      settings: {
        LOG_LEVEL: 'SILENT',
        METRICS: 'off',
        HTTP_MAX_ATTEMPTS: '2',
        HTTP_BASE_DELAY_MS: '5',
        HTTP_MAX_DELAY_MS: '20',
      },
    });
    await pipeline.analytics.setDown(true);
    for (const result of await pipeline.runCycle())
      if (result.status === 'rejected') throw result.reason;
    await pipeline.drain(60_000);
    await pipeline.analytics.setDown(false);
    const letters = pipeline.totals.merge.deadLettered;
    expect(letters).toBeGreaterThan(0);
    expect(await pipeline.analytics.receipts()).toEqual([]);

    const [replay, redrive] = operatorCommands(pipeline.mergeEnvironment);
    const replayed = await paste(commandLine(replay as never));
    expect(replayed.stderr).toContain(`Replaying ${prefix}dead_letter`);
    expect(replayed.stdout).toContain(`letters ${letters}  delivered ${letters}`);
    expect(replayed.code).toBe(0);
    expect(await pipeline.analytics.receipts()).toHaveLength(letters);

    const redriven = await paste(commandLine(redrive as never));
    expect(redriven.stdout).toContain('records 0');
    expect(redriven.stdout).toContain('left on the failed topics 0');
    expect(redriven.code).toBe(0);
  });
});
