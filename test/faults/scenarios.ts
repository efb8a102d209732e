import { randomUUID } from 'node:crypto';
import type { LocalDeployment, LocalDeploymentOptions } from '../../local/deployment.ts';
import type { RunningBroker } from '../../local/kafka-broker.ts';
import type { FaultMet } from '../../local/mocks/analytics-mock.ts';
import type { ScriptedFault } from '../../local/mocks/faults.ts';
import { mskBatchOf } from '../../local/msk-batch.ts';
import { produceRaw } from '../support/kafka.ts';
import { CRASH_SCENARIOS } from './crash-before-marks.ts';
import { DESTINATION_SCENARIOS } from './destination-faults.ts';
import { FAILED_BATCH_SCENARIOS } from './failed-batches.ts';
import { JOIN_SCENARIOS } from './join-faults.ts';
import { faultsDir, OwnRedis, TcpProxy } from './network.ts';
import { SOURCE_FAULT_SCENARIOS } from './source-faults.ts';

/** How the merge delivers to Analytics in a row: one payload per POST, or batch requests. */
export type DeliveryMode = 'single' | 'batch';

/** What a scenario gets from the runner. */
export type FaultContext = {
  broker: RunningBroker;
  /** The delivery mode of this row: start() already sets ANALYTICS_DELIVERY for it. */
  mode: DeliveryMode;
  /** The merge's mappings in this run (--mapping): start() already sets them. */
  mapping: 'provisioned' | 'on-demand';
  /** Starts a pipeline with its own topics and Redis keys, fast retries and silent logs. */
  start(options?: Partial<LocalDeploymentOptions>): Promise<LocalDeployment>;
  /** One schedule tick (fetch failures are noted, not thrown), then waits for the merge to catch up. */
  cycle(pipeline: LocalDeployment): Promise<void>;
  /** Starts fetching without waiting (to inject a fault while it runs). */
  fetchInBackground(pipeline: LocalDeployment): Promise<unknown>;
  drain(pipeline: LocalDeployment): Promise<void>;
  note(text: string): void;
  /** The Redis the pipelines use unless a scenario brings its own. */
  redisUrl: string;
  /** Deletes this pipeline's Redis keys matching the pattern (after its prefix); returns how many. */
  deleteKeys(pipeline: LocalDeployment, pattern: string): Promise<number>;
};

export type ScenarioResult = {
  pipeline: LocalDeployment;
  /** Checks of the scenario's own (that its fault was met), beyond the invariant. */
  problems?: string[];
  /** Invalid inputs injected, each of which must end in quarantine. */
  expectedQuarantined?: number;
  /** False when the scenario drove the merge function directly, not through the topics. */
  sourceTopicsChecked?: boolean;
  cleanup?: () => Promise<void>;
};

export type Scenario = {
  name: string;
  /**
   * The retry budget the row assumes (the suite runs with 5 tries per request, a 1 s timeout,
   * and the event source mapping retrying a failed batch). Unless deadLettersExpected, the
   * faults fit in it, and the row must end with no dead letter.
   */
  budget: string;
  deadLettersExpected?: boolean;
  /**
   * Runs with nothing else in flight: the row restarts the shared broker, or its timing would
   * suffer from other rows. Rows that share nothing (own topics, keys, proxies, mocks) run side
   * by side.
   */
  exclusive?: boolean;
  /** Takes much longer than most rows: started first, so the pool ends together. */
  long?: boolean;
  run(ctx: FaultContext): Promise<ScenarioResult>;
};

// A burst of n scripted faults fits "5 tries" when n <= 4: even if one request meets them all,
// its fifth try succeeds.
const POST_TRIES = '5 tries per POST';
const PAGE_TRIES = '5 tries per page';
const BATCH_RETRY = 'failed batch retried';
const NEXT_RUN = 'the next fetch run';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const times = <T>(n: number, item: T): T[] => Array.from({ length: n }, () => item);

/** One mock answers with these faults first; one cycle must absorb them with its retries. */
function scripted(
  name: string,
  budget: string,
  mock: 'analytics' | 'crm' | 'inventory',
  faults: ScriptedFault[],
): Scenario {
  return {
    name,
    budget,
    async run(ctx) {
      const pipeline = await ctx.start();
      await pipeline[mock].script(...faults);
      await ctx.cycle(pipeline);
      return { pipeline };
    },
  };
}

/**
 * The faults the Analytics mock met, once it has settled each: a late answer is still held for a
 * while after the merge gave up on it and the batch was done.
 */
async function settledFaults(pipeline: LocalDeployment, withinMs: number): Promise<FaultMet[]> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const met = await pipeline.analytics.faultsMet();
    if (met.every((fault) => fault.answerLost !== undefined) || Date.now() > deadline) return met;
    await sleep(100);
  }
}

/**
 * Analytics processes the first POSTs and answers them late or drops the connection: the merge
 * sees a timeout or a reset, retries with the same Idempotency-Key, and counts an ambiguous retry
 * for each. A sink that honours the key answers the retry from its first answer; one that ignores
 * it processes the payload again.
 *
 * Which requests meet the faults depends on timing: the first tries of several POSTs, or a retry
 * of one (when a merge batch holds fewer payloads than there are faults, or in batch mode), and
 * under load the merge may read a late answer that came while its event loop was busy. So the
 * expectation is what the mock observed: every answer it lost must have been retried, each
 * counted as an ambiguous retry per payload of its request, and each request that was processed
 * before its answer was lost must have come again with its key.
 */
function processedThenLost(name: string, honoursKey: boolean, faults: ScriptedFault[]): Scenario {
  return {
    name,
    budget: `${POST_TRIES}, 1 s timeout`,
    async run(ctx) {
      const pipeline = await ctx.start({ analyticsHonoursIdempotencyKey: honoursKey });
      await pipeline.analytics.script(...faults);
      await ctx.cycle(pipeline);
      const longest = Math.max(0, ...faults.map((f) => (f.kind === 'late-answer' ? f.afterMs : 0)));
      const met = await settledFaults(pipeline, longest + 5_000);
      const stats = await pipeline.analytics.stats();
      const ambiguous = pipeline.totals.merge.ambiguousRetries;
      const lost = met.filter((fault) => fault.answerLost);
      const problems: string[] = [];
      if (met.length < faults.length || met.some((fault) => fault.answerLost === undefined))
        problems.push(`${faults.length} faults injected, ${met.length} met and settled`);
      if (lost.length === 0)
        problems.push(`none of the ${faults.length} faults lost an answer: the row tested nothing`);
      // The budget fits the faults, so every lost answer was followed by a retry, ambiguous (the
      // request was sent whole), counted once per payload of its request.
      const exposed = lost.reduce((sum, fault) => sum + fault.payloads, 0);
      if (ambiguous < exposed)
        problems.push(
          `${lost.length} answers lost (${exposed} payloads exposed), ${ambiguous} ambiguous retries counted`,
        );
      const processedLost = lost.filter((fault) => fault.kind !== 'reset').length;
      if (stats.repeatedKeys < processedLost)
        problems.push(
          `${processedLost} answers lost after processing, ${stats.repeatedKeys} keys repeated`,
        );
      const retried = met.filter((fault) => fault.repeat).length;
      ctx.note(
        `${lost.length}/${met.length} answers lost (${retried} on a retry); ${ambiguous} ambiguous retries; ${stats.repeatedKeys} repeated keys ${honoursKey ? 'answered from the first answer' : 'processed again'}`,
      );
      return { pipeline, problems };
    },
  };
}

export const SCENARIOS: Scenario[] = [
  scripted(
    'analytics: 500s for a while',
    `${POST_TRIES} (4 faults)`,
    'analytics',
    times(4, { kind: 'status', status: 500 }),
  ),
  scripted(
    'analytics: timeouts (not processed)',
    `${POST_TRIES}, 1 s timeout`,
    'analytics',
    times(4, { kind: 'hang' }),
  ),
  processedThenLost(
    'analytics: late success, sink honours the key',
    true,
    times(3, { kind: 'late-answer', afterMs: 1500 }),
  ),
  processedThenLost(
    'analytics: late success, sink ignores the key',
    false,
    times(3, { kind: 'late-answer', afterMs: 1500 }),
  ),
  processedThenLost('analytics: connection reset after the body was sent', true, [
    { kind: 'reset-after-processing' },
    { kind: 'reset' },
    { kind: 'reset-after-processing' },
  ]),
  {
    name: 'analytics: slow answers',
    budget: `${POST_TRIES}, 1 s timeout (answers in 0.3 s)`,
    async run(ctx) {
      const pipeline = await ctx.start({ analyticsFaults: { latencyMs: 300 } });
      await ctx.cycle(pipeline);
      return { pipeline };
    },
  },
  scripted(
    'analytics: 429 burst with Retry-After',
    `${POST_TRIES} (4 faults), Retry-After 1 s`,
    'analytics',
    times(4, { kind: 'status', status: 429, retryAfterSeconds: 1 }),
  ),
  {
    name: 'analytics: down past all retries, then replay',
    budget: 'none: past all tries, then a replay',
    deadLettersExpected: true,
    async run(ctx) {
      const pipeline = await ctx.start();
      await pipeline.analytics.setDown(true);
      await ctx.cycle(pipeline);
      const lettered = pipeline.totals.merge.deadLettered;
      await pipeline.analytics.setDown(false);
      const replay = await pipeline.replayDeadLetters(60_000);
      ctx.note(`${lettered} dead-lettered while down; replay delivered ${replay.posted}`);
      return { pipeline };
    },
  },
  scripted(
    'source: 429 with Retry-After',
    `${PAGE_TRIES}, Retry-After 1 s`,
    'crm',
    times(2, { kind: 'status', status: 429, retryAfterSeconds: 1 }),
  ),
  scripted('source: 5xx burst', PAGE_TRIES, 'inventory', [
    { kind: 'status', status: 503 },
    { kind: 'status', status: 502 },
    { kind: 'status', status: 500 },
    { kind: 'reset' },
  ]),
  scripted('source: a page times out', `${PAGE_TRIES}, 1 s timeout`, 'crm', [{ kind: 'hang' }]),
  {
    name: 'source: malformed JSON (stays malformed; next run ok)',
    budget: `${PAGE_TRIES}, then ${NEXT_RUN}`,
    async run(ctx) {
      const pipeline = await ctx.start();
      await pipeline.crm.script(...times<ScriptedFault>(5, { kind: 'malformed' }));
      await ctx.cycle(pipeline);
      await ctx.cycle(pipeline);
      return { pipeline, expectedQuarantined: 1 };
    },
  },
  {
    name: 'source: missing, non-string and huge ids/records',
    budget: 'none needed (quarantine)',
    async run(ctx) {
      const pipeline = await ctx.start();
      await pipeline.crm.update((records) =>
        records.splice(
          3,
          0,
          { name: 'No Id', email: 'noid@example.com', updatedAt: null },
          // A JSON integer id is an id (issue 25); a fraction is not one.
          { id: 77.5, name: 'Fractional Id', email: 'num@example.com', updatedAt: null },
          { id: '', name: 'Empty Id', email: 'empty@example.com', updatedAt: null },
        ),
      );
      await pipeline.inventory.update((records) =>
        records.push({
          id: '5',
          name: 'x'.repeat(200_000),
          stock: 1,
          updatedAt: '2030-01-01T00:00:00Z',
        }),
      );
      await ctx.cycle(pipeline);
      return { pipeline, expectedQuarantined: 4 };
    },
  },
  {
    name: 'source: duplicated ids on one page',
    budget: 'none needed',
    async run(ctx) {
      const pipeline = await ctx.start();
      await pipeline.crm.update((records) => {
        const original = records[1] as Record<string, unknown>;
        records.splice(2, 0, {
          ...original,
          name: 'Second Copy',
          updatedAt: '2030-01-01T00:00:00Z',
        });
      });
      await ctx.cycle(pipeline);
      return { pipeline };
    },
  },
  {
    name: 'source: an empty page mid-listing',
    budget: NEXT_RUN,
    async run(ctx) {
      const pipeline = await ctx.start();
      await pipeline.inventory.script({ kind: 'empty' });
      await ctx.cycle(pipeline);
      await ctx.cycle(pipeline);
      return { pipeline };
    },
  },
  {
    name: 'source: pagination ends early (next run complete)',
    budget: NEXT_RUN,
    async run(ctx) {
      const pipeline = await ctx.start();
      await pipeline.crm.setLastPage(1);
      await ctx.cycle(pipeline);
      await pipeline.crm.setLastPage(undefined);
      await ctx.cycle(pipeline);
      return { pipeline };
    },
  },
  {
    name: 'kafka: broker restarted while publishing',
    exclusive: true,
    budget: 'producer retries, then the next fetch run',
    async run(ctx) {
      const pipeline = await ctx.start({ sourceFaults: { latencyMs: 150 } });
      const fetching = ctx.fetchInBackground(pipeline);
      await sleep(400);
      await ctx.broker.restart(1000);
      await fetching;
      await ctx.cycle(pipeline);
      return { pipeline };
    },
  },
  {
    name: 'kafka: broker restarted while consuming',
    exclusive: true,
    budget: BATCH_RETRY,
    async run(ctx) {
      const pipeline = await ctx.start({ analyticsFaults: { latencyMs: 40 }, batchSize: 5 });
      await pipeline.runCycle();
      await sleep(300);
      await ctx.broker.restart(1000);
      await ctx.drain(pipeline);
      return { pipeline };
    },
  },
  {
    name: 'kafka: non-JSON and keyless messages',
    budget: 'none needed (quarantine)',
    async run(ctx) {
      const pipeline = await ctx.start();
      await produceRaw(pipeline.kafka, pipeline.topics.customer, [
        { key: '3', value: 'this is not JSON' },
        { key: null, value: '{"broken": ' },
        { key: null, value: JSON.stringify({ name: 'keyless, id-less' }) },
      ]);
      await ctx.cycle(pipeline);
      return { pipeline, expectedQuarantined: 3 };
    },
  },
  {
    name: 'kafka: same batch twice (crash after POST)',
    budget: BATCH_RETRY,
    async run(ctx) {
      let crashes = 0;
      const pipeline = await ctx.start({
        interceptMerge: (merge) => async (event) => {
          const summary = await merge(event);
          if (summary.posted > 0 && crashes < 4) {
            crashes++;
            throw new Error('crash after posting, before the offsets are committed');
          }
          return summary;
        },
      });
      await ctx.cycle(pipeline);
      ctx.note(`${crashes} invocation(s) crashed after posting; their batches came again`);
      return { pipeline };
    },
  },
  {
    name: 'redis: unreachable mid-batch',
    budget: BATCH_RETRY,
    async run(ctx) {
      const target = new URL(ctx.redisUrl);
      const proxy = await new TcpProxy(target.hostname, Number(target.port || 6379)).start();
      let invocations = 0;
      const pipeline = await ctx.start({
        // Only the merge goes through the proxy: this row is about a batch in flight. (The fetch
        // functions keep their sync state in Redis too; an outage during a fetch run is not
        // what this row measures.)
        mergeRedisUrl: `redis://127.0.0.1:${proxy.port}`,
        analyticsFaults: { latencyMs: 150 },
        batchSize: 5,
        // On the third invocation, while its POSTs are in flight, Redis goes away for 2 s.
        interceptMerge: (merge) => async (event) => {
          if (++invocations === 3) {
            setTimeout(() => proxy.cut(), 50);
            setTimeout(() => void proxy.heal(), 2050);
          }
          return merge(event);
        },
      });
      await ctx.cycle(pipeline);
      ctx.note(
        `${pipeline.totals.merge.failedInvocations} merge invocation(s) failed and were retried`,
      );
      return { pipeline, cleanup: () => proxy.stop() };
    },
  },
  {
    name: 'redis: restarted mid-batch (AOF)',
    budget: BATCH_RETRY,
    async run(ctx) {
      const redis = await new OwnRedis(faultsDir(`redis-${randomUUID().slice(0, 6)}`)).start();
      let invocations = 0;
      let restarted: Promise<void> = Promise.resolve();
      const pipeline = await ctx.start({
        redisUrl: redis.url,
        analyticsFaults: { latencyMs: 150 },
        batchSize: 5,
        interceptMerge: (merge) => async (event) => {
          if (++invocations === 3) {
            restarted = sleep(50).then(() => redis.restart(1000));
          }
          return merge(event);
        },
      });
      await ctx.cycle(pipeline);
      await restarted;
      await ctx.cycle(pipeline);
      ctx.note(
        `${pipeline.totals.merge.failedInvocations} merge invocation(s) failed and were retried`,
      );
      return { pipeline, cleanup: () => redis.stop() };
    },
  },
  {
    name: 'redis: join-state keys expired',
    budget: 'none needed',
    async run(ctx) {
      const pipeline = await ctx.start();
      await ctx.cycle(pipeline);
      const removed = await ctx.deleteKeys(pipeline, 'join:*');
      await ctx.cycle(pipeline);
      ctx.note(`${removed} join keys removed between cycles`);
      return { pipeline };
    },
  },
  {
    name: 'concurrency: merge invocations race per topic',
    budget: 'in-progress wait, then held record retried',
    async run(ctx) {
      const pipeline = await ctx.start();
      const customers = mskBatchOf(pipeline.topics.customer, await pipeline.crm.records(), 'race');
      const products = mskBatchOf(
        pipeline.topics.inventory,
        await pipeline.inventory.records(),
        'race',
      );
      await Promise.all([
        pipeline.merge(structuredClone(customers)),
        pipeline.merge(structuredClone(products)),
        pipeline.merge(structuredClone(products)),
        pipeline.merge(structuredClone(customers)),
      ]);
      return { pipeline, sourceTopicsChecked: false };
    },
  },
  {
    name: 'concurrency: two fetch runs of one source overlap',
    budget: 'none needed',
    async run(ctx) {
      const pipeline = await ctx.start();
      await Promise.allSettled([
        pipeline.fetchOnce('crm'),
        pipeline.fetchOnce('crm'),
        pipeline.fetchOnce('inventory'),
      ]);
      await ctx.drain(pipeline);
      return { pipeline };
    },
  },
  ...CRASH_SCENARIOS,
  ...FAILED_BATCH_SCENARIOS,
  ...DESTINATION_SCENARIOS,
  ...SOURCE_FAULT_SCENARIOS,
  ...JOIN_SCENARIOS,
];
