import type { MergeRuntime } from '../functions/merge/runtime.ts';
import { createSweepHandler } from '../functions/sweep/handler.ts';
import { createMetrics } from '../shared/metrics.ts';
import type { SourceDefinition } from '../shared/sources/definition.ts';
import type { JoinDefinition } from '../shared/sources/join.ts';
import type { SweepSummary } from '../shared/use-cases/sweep-pending.ts';
import { type FaultRates, seedOf } from './mocks/faults.ts';
import { SourceMock } from './mocks/servers.ts';
import { sampleSideRecords } from './mocks/side-dataset.ts';

/**
 * Mock servers for the sources whose side neither the CRM nor the Inventory mock serves (a
 * third source), by source name. Sources with their own URL are left alone.
 */
export async function startSideMocks(
  sources: readonly SourceDefinition[],
  join: JoinDefinition,
  records: number,
  faults: Partial<FaultRates> | undefined,
  faultSeed?: number,
): Promise<Map<string, SourceMock>> {
  const mocks = new Map<string, SourceMock>();
  let index = 0;
  for (const source of sources) {
    const side = join.sideOf[source.name] ?? '';
    if (side === 'customer' || side === 'inventory' || source.url !== undefined) continue;
    const mock = new SourceMock(
      source.path ?? `/${source.name}`,
      sampleSideRecords(side, records),
      faults,
      seedOf(faultSeed, { side: index++ }),
    );
    mocks.set(source.name, await mock.start());
  }
  return mocks;
}

/**
 * The sweeper on a timer, as EventBridge Scheduler runs it on AWS: the sweep handler over the
 * merge's runtime, every `everyMs`, never two at once. `sweepNow` runs one at once.
 */
export function startSweeper(
  runtime: MergeRuntime,
  everyMs: number,
  onError: (error: unknown) => void,
) {
  const sweep = createSweepHandler(runtime, createMetrics('sweep', 'off'), 1_000);
  let running: Promise<SweepSummary | undefined> | undefined;
  let last: SweepSummary | undefined;
  const sweepNow = async (): Promise<SweepSummary | undefined> => {
    if (running) return running;
    running = (async () => {
      try {
        last = (await sweep({})) as SweepSummary;
        return last;
      } catch (error) {
        onError(error);
        return undefined;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void sweepNow(), everyMs);
  timer.unref();
  return {
    sweepNow,
    last: () => last,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
