import type { LocalDeployment } from '../../local/deployment.ts';
import { TcpProxy } from './network.ts';
import type { FaultContext, Scenario, ScenarioResult } from './scenarios.ts';

/** Retries the emulated mappings make in these rows before they give a batch up (AWS: 10). */
const RETRY_ATTEMPTS = 2;
const BUDGET = `${RETRY_ATTEMPTS} batch retries, then failed_<topic> and a re-drive`;

type Setup = {
  pipeline: LocalDeployment;
  proxy: TcpProxy;
  /** Analytics receipts so far (counted in this process). */
  receipts: () => number;
  /** Called on each receipt (to inject a fault mid re-drive). */
  onReceipt: (hook: (count: number) => void) => void;
};

/**
 * A pipeline whose merge reaches Redis through a proxy that is cut once every record is
 * published and before any batch is merged: every batch fails all its tries and the emulated
 * mappings hand them to failed_<topic>, committing past them, as Lambda does after
 * MaximumRetryAttempts. Then Redis is healed. The fetch functions saw Redis the whole time.
 */
async function everyBatchGivenUp(ctx: FaultContext, problems: string[]): Promise<Setup> {
  const target = new URL(ctx.redisUrl);
  const proxy = await new TcpProxy(target.hostname, Number(target.port || 6379)).start();
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let received = 0;
  let hook: (count: number) => void = () => {};
  const pipeline = await ctx.start({
    retryAttempts: RETRY_ATTEMPTS,
    mergeRedisUrl: `redis://127.0.0.1:${proxy.port}`,
    onAnalyticsReceive: () => hook(++received),
    interceptMerge: (merge) => async (event) => {
      await gate;
      return merge(event);
    },
  });
  await ctx.fetchInBackground(pipeline);
  proxy.cut();
  open();
  await ctx.drain(pipeline);
  const gaveUp = pipeline.totals.merge.gaveUp;
  if (gaveUp === 0) problems.push('no batch was given up: the fault was not met');
  if (received > 0) problems.push(`${received} payloads reached Analytics while Redis was down`);
  await proxy.heal();
  return {
    pipeline,
    proxy,
    receipts: () => received,
    onReceipt: (next) => {
      hook = next;
    },
  };
}

export const FAILED_BATCH_SCENARIOS: Scenario[] = [
  {
    name: 'redis: down past all batch retries, then re-drive',
    long: true,
    budget: BUDGET,
    async run(ctx): Promise<ScenarioResult> {
      const problems: string[] = [];
      const { pipeline, proxy } = await everyBatchGivenUp(ctx, problems);
      const gaveUp = pipeline.totals.merge.gaveUp;
      const redrive = await pipeline.redriveFailedBatches(120_000);
      if (redrive.remaining > 0) problems.push(`${redrive.remaining} records left after re-drive`);
      if (redrive.records !== gaveUp)
        problems.push(`${gaveUp} records given up, ${redrive.records} re-driven`);
      // A second re-drive finds nothing left: the group's offsets are the mark.
      const again = await pipeline.redriveFailedBatches(60_000);
      if (again.records > 0) problems.push(`a second re-drive read ${again.records} records again`);
      ctx.note(
        `${gaveUp} records given up after ${RETRY_ATTEMPTS} retries; re-drive delivered ${redrive.posted}, ${redrive.waiting} waiting`,
      );
      return { pipeline, problems, cleanup: () => proxy.stop() };
    },
  },
  {
    name: 'redis: re-drive crashes midway (Redis lost again), run again',
    long: true,
    budget: `${BUDGET}, run twice`,
    async run(ctx): Promise<ScenarioResult> {
      const problems: string[] = [];
      const { pipeline, proxy, onReceipt } = await everyBatchGivenUp(ctx, problems);
      // The first re-drive loses Redis after its third delivery: the chunk in flight fails and
      // its offsets stay uncommitted.
      onReceipt((count) => {
        if (count === 3) proxy.cut();
      });
      const first = await pipeline.redriveFailedBatches(120_000, 3000);
      if (first.remaining === 0) problems.push('the first re-drive was not interrupted');
      onReceipt(() => {});
      await proxy.heal();
      // The payloads in flight when Redis went stay locked for the lock window (3 s here, 60 s
      // by default): the rerun waits for them, then delivers or skips each.
      const second = await pipeline.redriveFailedBatches(120_000, 3000);
      if (second.remaining > 0) problems.push(`${second.remaining} records left after the rerun`);
      ctx.note(
        `first re-drive stopped with ${first.remaining} left (${first.posted} delivered); the rerun delivered ${second.posted}, skipped ${second.duplicates} already delivered`,
      );
      return { pipeline, problems, cleanup: () => proxy.stop() };
    },
  },
];
