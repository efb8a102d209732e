import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { aroundCache, marksIn } from './marks.ts';
import type { Scenario, ScenarioResult } from './scenarios.ts';

/**
 * The merge function's timeout in these rows (Lambda's is minutes): a dead invocation's claims
 * stay INPROGRESS this long at most, then the retried batch takes them over as orphans.
 */
const FUNCTION_TIMEOUT_MS = 6000;
/** Invocations that die, each at its first completed mark. */
const CRASHES = 2;

/** A Lambda context whose remaining time runs down from `timeoutMs`. */
function lambdaContext(timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  const noop = () => {};
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'merge',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:merge',
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/merge',
    logStreamName: 'faults',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: noop,
    fail: noop,
    succeed: noop,
  };
}

class ProcessDied extends Error {
  override name = 'ProcessDied';
}

/**
 * A merge whose first CRASHES invocations die between the Analytics 2xx and the completed marks:
 * the mark is never written, and nothing more that invocation asks of Redis happens (a dead
 * process does nothing). Each invocation runs in its own async context, so a death stays with
 * the invocation it hit, as a Lambda process belongs to one invocation at a time. Every mark
 * refused is a payload the sink accepted and Redis does not know of: once the dead invocation's
 * claims expire (its remaining time), the retried batch takes them over and sends it again.
 */
function crashBeforeMarks(name: string, honoursKey: boolean): Scenario {
  return {
    name,
    budget: `batch retried once the dead invocation's claims expire (${FUNCTION_TIMEOUT_MS / 1000} s timeout)`,
    async run(ctx): Promise<ScenarioResult> {
      const invocation = new AsyncLocalStorage<{ dead: boolean }>();
      let crashes = 0;
      let unmarked = 0;
      const pipeline = await ctx.start({
        analyticsHonoursIdempotencyKey: honoursKey,
        // The sweeper shares the merge runtime's delivery and registers its own 60 s context
        // on it; here it has nothing to sweep and would only lengthen the dead claims' lock.
        sweepEveryMs: 3_600_000,
        interceptMerge: (merge) => (event) => {
          const state = { dead: false };
          // Lambda ends an invocation at its timeout: it is dead from then on, as after a crash.
          let timer: NodeJS.Timeout | undefined;
          const timedOut = new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              state.dead = true;
              reject(new ProcessDied(`task timed out after ${FUNCTION_TIMEOUT_MS} ms`));
            }, FUNCTION_TIMEOUT_MS);
          });
          const running = invocation.run(state, () =>
            merge(event, lambdaContext(FUNCTION_TIMEOUT_MS)),
          );
          running.catch(() => {});
          return Promise.race([running, timedOut]).finally(() => clearTimeout(timer));
        },
        interceptMergeCache: (cache) =>
          aroundCache(cache, (method, args, call) => {
            const state = invocation.getStore();
            const marks = marksIn(method, args);
            if (state && !state.dead && marks > 0 && crashes < CRASHES) {
              crashes++;
              state.dead = true;
            }
            if (!state?.dead) return call();
            unmarked += marks;
            return Promise.reject(
              new ProcessDied('the process died after the 2xx, before the completed marks'),
            );
          }),
      });
      await ctx.cycle(pipeline);
      const stats = await pipeline.analytics.stats();
      const problems: string[] = [];
      if (crashes < CRASHES) problems.push(`${CRASHES} crashes planned, ${crashes} happened`);
      if (unmarked === 0) problems.push('no accepted payload lost its completed mark');
      // The payloads sent again reach the sink with keys (or event ids) it has seen: processed
      // again when it ignores them, answered from the first answer when it honours them.
      if (stats.repeatedKeys === 0)
        problems.push(`${unmarked} payloads sent again, but the sink saw no repeated key`);
      ctx.note(
        `${crashes} invocations died after a 2xx; ${unmarked} accepted payloads had no completed mark and were sent again (${honoursKey ? 'answered from the first answer or the event id' : 'processed again'})`,
      );
      return { pipeline, problems };
    },
  };
}

export const CRASH_SCENARIOS: Scenario[] = [
  crashBeforeMarks('crash: between the 2xx and the completed marks, sink honours the key', true),
  crashBeforeMarks('crash: between the 2xx and the completed marks, sink ignores the key', false),
];
