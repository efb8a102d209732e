import { createSweepHandler } from '../../functions/sweep/handler.ts';
import type { LocalDeployment } from '../../local/deployment.ts';
import { createLogger } from '../../shared/logger.ts';
import { createMetrics } from '../../shared/metrics.ts';
import type { SweepSummary } from '../../shared/use-cases/sweep-pending.ts';
import type { Scenario, ScenarioResult } from './scenarios.ts';

/*
 * The sweeper of an `emit after` join under faults. The suite's invariant (invariant.ts) judges
 * the complete payloads: each exactly once, no payload (partial or complete, by its hash) twice.
 * A partial payload has a hash of its own, so the invariant neither counts it as a repeat of the
 * complete one nor asks for it; these rows check the partials themselves: every half whose grace
 * period passed went out exactly once with its missing side null.
 */

/** Grace period of the rows' join: short, so that the rows stay fast. */
const GRACE_MS = 400;
const JOIN = { missing: `emit after ${GRACE_MS}ms` };
/** The timer never fires within a row: each sweep is run by the row itself. */
const NO_TIMER = 3_600_000;
const BUDGET = 'the next sweep';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Body = Record<string, unknown>;

/** Receipts of partial payloads (a required side null) and of complete ones, by id, in order. */
async function receiptsById(pipeline: LocalDeployment) {
  const partial = new Map<string, number>();
  const order = new Map<string, ('partial' | 'complete')[]>();
  for (const { id, body } of await pipeline.analytics.receipts()) {
    const isPartial = pipeline.join.required.some((side) => (body as Body)[side] === null);
    if (isPartial) partial.set(id, (partial.get(id) ?? 0) + 1);
    order.set(id, [...(order.get(id) ?? []), isPartial ? 'partial' : 'complete']);
  }
  return { partial, order };
}

/** Ids one mock source holds and the other lacks (the halves the sweeper acts on). */
async function halvesOf(pipeline: LocalDeployment): Promise<string[]> {
  const [customers, products] = await Promise.all([
    pipeline.crm.records(),
    pipeline.inventory.records(),
  ]);
  const c = new Set(customers.map((record) => String(record.id)));
  const p = new Set(products.map((record) => String(record.id)));
  return [...new Set([...c, ...p])].filter((id) => !(c.has(id) && p.has(id))).sort();
}

/**
 * The pipeline's sweep handler over the pipeline's own dependencies, with two faults it can
 * inject: `crashAfter`, a sweep that dies after that many partials were delivered and before the
 * last of them was marked emitted (from then on every call of the dead sweep fails; work already
 * in flight finishes, as POSTs already sent do); `only`, a sweep that acts on those due ids only
 * (to race the merge invocation holding them).
 */
async function sweepWith(
  pipeline: LocalDeployment,
  { crashAfter, only }: { crashAfter?: number; only?: Set<string> },
) {
  const deps = await pipeline.mergeDeps();
  const { pending, delivery } = deps;
  let marked = 0;
  let dead = false;
  const alive = <T>(call: () => Promise<T>): Promise<T> =>
    dead ? Promise.reject(new Error('sweeper crashed')) : call();
  const wrapped: typeof deps = {
    ...deps,
    pending: {
      due: async (cutoff, limit) =>
        (await pending.due(cutoff, limit)).filter((entry) => !only || only.has(entry.id)),
      stats: () => pending.stats(),
      list: (limit) => pending.list(limit),
      drop: (id, cutoff) => alive(() => pending.drop(id, cutoff)),
      look: (id) => alive(() => pending.look(id)),
      markEmitted: (id) =>
        alive(async () => {
          if (++marked === crashAfter) {
            dead = true;
            throw new Error('sweeper crashed');
          }
          await pending.markEmitted(id);
        }),
    },
    delivery: {
      registerInvocation: (context: Parameters<typeof delivery.registerInvocation>[0]) =>
        delivery.registerInvocation(context),
      deliver: (payload: Parameters<typeof delivery.deliver>[0], hash: string) =>
        alive(() => delivery.deliver(payload, hash)),
    } as unknown as typeof delivery,
  };
  const sweep = createSweepHandler(
    { ready: async () => wrapped, logger: createLogger('sweep', 'SILENT') },
    createMetrics('sweep', 'off'),
    1_000,
  );
  return sweep({}).then(
    (summary) => summary as SweepSummary,
    (error: unknown) => (error as Error).message,
  );
}

/** Checks that each half went out once as a partial payload, and that nothing is left due. */
async function everyHalfOnce(pipeline: LocalDeployment, halves: string[], problems: string[]) {
  const { partial } = await receiptsById(pipeline);
  const missing = halves.filter((id) => !partial.has(id));
  const twice = [...partial].filter(([, n]) => n > 1).map(([id]) => id);
  if (missing.length > 0) problems.push(`no partial payload for ${missing.join(', ')}`);
  if (twice.length > 0) problems.push(`partial payload delivered twice for ${twice.join(', ')}`);
  const last = (await pipeline.sweep()) as SweepSummary | undefined;
  if (!last) problems.push('a sweep after the fault failed');
  else if (last.due > 0) problems.push(`${last.due} id(s) still due after the fault`);
  return partial;
}

export const JOIN_SCENARIOS: Scenario[] = [
  {
    name: 'sweeper: crashes mid-sweep, the next sweep finishes',
    budget: BUDGET,
    async run(ctx): Promise<ScenarioResult> {
      const problems: string[] = [];
      // Two deliveries at a time, so that some halves are still untouched when it dies.
      const pipeline = await ctx.start({
        join: JOIN,
        sweepEveryMs: NO_TIMER,
        settings: { ANALYTICS_CONCURRENCY: '2' },
      });
      await ctx.cycle(pipeline);
      const halves = await halvesOf(pipeline);
      await sleep(GRACE_MS + 100);
      const crash = await sweepWith(pipeline, { crashAfter: 3 });
      const afterCrash = (await receiptsById(pipeline)).partial.size;
      if (crash !== 'sweeper crashed')
        problems.push(
          `the sweep did not crash (${typeof crash === 'string' ? crash : 'it finished'})`,
        );
      if (afterCrash === 0 || afterCrash >= halves.length)
        problems.push(
          `the crash was not mid-sweep: ${afterCrash} of ${halves.length} partials delivered`,
        );
      // The next scheduled sweep: the ids delivered but not marked are duplicates to it.
      const next = (await pipeline.sweep()) as SweepSummary | undefined;
      if (!next) problems.push('the sweep after the crash failed');
      else if (next.duplicates === 0)
        problems.push('the next sweep met no payload the crashed one had delivered');
      await everyHalfOnce(pipeline, halves, problems);
      ctx.note(
        `crashed after ${afterCrash} of ${halves.length} partials; the next sweep delivered ${next?.emitted ?? 0} and found ${next?.duplicates ?? 0} already delivered`,
      );
      return { pipeline, problems };
    },
  },
  {
    name: 'sweeper: races the merge on the same ids',
    budget: BUDGET,
    async run(ctx): Promise<ScenarioResult> {
      const problems: string[] = [];
      // Once the missing sides are published, every merge invocation races a sweep of the very
      // ids it holds: the sweeper emits a half while the merge completes it.
      let racing = false;
      let raced = 0;
      const outcomes = { emitted: 0, settled: 0 };
      const pipeline: LocalDeployment = await ctx.start({
        join: JOIN,
        sweepEveryMs: NO_TIMER,
        records: 200,
        pageSize: 50,
        interceptMerge: (merge) => async (event) => {
          if (!racing) return merge(event);
          const ids = new Set(
            Object.values(event.records ?? {})
              .flat()
              .flatMap((r) => (r.key ? [Buffer.from(r.key, 'base64').toString('utf8')] : [])),
          );
          const [swept, summary] = await Promise.all([
            sweepWith(pipeline, { only: ids }),
            merge(event),
          ]);
          if (typeof swept === 'string') throw new Error(`a racing sweep failed: ${swept}`);
          raced += swept.due;
          outcomes.emitted += swept.emitted + swept.duplicates;
          outcomes.settled += swept.settled;
          return summary;
        },
      });
      await ctx.cycle(pipeline);
      const halves = await halvesOf(pipeline);
      // The missing sides arrive with the next fetch, after the grace period has passed.
      const customers = new Set((await pipeline.crm.records()).map((r) => String(r.id)));
      for (const id of halves) {
        if (customers.has(id))
          await pipeline.inventory.upsert({ id, name: `Product ${id}`, stock: 5, updatedAt: null });
        else
          await pipeline.crm.upsert({
            id,
            name: `Customer ${id}`,
            email: `customer${id}@example.com`,
            updatedAt: null,
          });
      }
      await sleep(GRACE_MS + 100);
      racing = true;
      await ctx.cycle(pipeline);
      racing = false;
      if (raced === 0) problems.push('no sweep raced the merge on a due id');
      const last = (await pipeline.sweep()) as SweepSummary | undefined;
      if (!last || last.pending > 0)
        problems.push(`${last?.pending ?? '?'} id(s) still pending after both sides came`);
      const { partial, order } = await receiptsById(pipeline);
      const twice = [...partial].filter(([, n]) => n > 1).map(([id]) => id);
      if (twice.length > 0)
        problems.push(`partial payload delivered twice for ${twice.join(', ')}`);
      const shapes = { partialFirst: 0, partialAfter: 0, completeOnly: 0 };
      for (const id of halves) {
        const seen = (order.get(id) ?? []).join(',');
        if (seen === 'partial,complete') shapes.partialFirst++;
        else if (seen === 'complete,partial') shapes.partialAfter++;
        else if (seen === 'complete') shapes.completeOnly++;
        else problems.push(`id ${id} received ${seen || 'nothing'}`);
      }
      ctx.note(
        `${raced} due ids swept while the merge completed them (${outcomes.emitted} emitted, ${outcomes.settled} found complete): ${shapes.partialFirst} partial then complete, ${shapes.completeOnly} complete only, ${shapes.partialAfter} partial after the complete (a documented race)`,
      );
      return { pipeline, problems };
    },
  },
];
