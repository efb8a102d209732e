import type { Kafka } from 'kafkajs';
import { summarize } from '../../local/report.ts';
import { ensureTopics } from '../../shared/adapters/kafka-topics.ts';
import { TcpProxy } from './network.ts';
import type { FaultContext, Scenario, ScenarioResult } from './scenarios.ts';

/** Retries the emulated mappings make in these rows before they give a batch up (AWS: 10). */
const RETRY_ATTEMPTS = 2;

async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics, timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
}

/**
 * The same fault under on-demand mappings (the small profile): there is no on-failure destination
 * to miss, the merge writes a given-up batch to failed_<topic> itself, and when that write fails
 * it throws, so the mapping retries the batch (docs/design.md, "Mappings without provisioned
 * pollers"). Nothing may be dropped: the batch waits until the topic is back, then is delivered
 * with no re-sync.
 */
async function unwritableOnDemand(ctx: FaultContext): Promise<ScenarioResult> {
  const problems: string[] = [];
  const target = new URL(ctx.redisUrl);
  const proxy = await new TcpProxy(target.hostname, Number(target.port || 6379)).start();
  let received = 0;
  let writeFailures = 0;
  const pipeline = await ctx.start({
    retryAttempts: RETRY_ATTEMPTS,
    mergeRedisUrl: `redis://127.0.0.1:${proxy.port}`,
    onAnalyticsReceive: () => {
      received++;
    },
    onMergeFailure: (error) => {
      if ((error as Error).name === 'FailedBatchWriteError') writeFailures++;
    },
  });
  await deleteTopics(pipeline.kafka, pipeline.topics.failed);
  proxy.cut();
  await ctx.fetchInBackground(pipeline);
  // Every source topic's batch past its retries, and its write to the deleted topic failed.
  const deadline = Date.now() + 60_000;
  while (writeFailures < pipeline.topics.failed.length && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
  if (writeFailures < pipeline.topics.failed.length)
    problems.push(`${writeFailures} failed-topic write(s) failed in 60 s: the fault was not met`);
  const { dropped, gaveUp } = pipeline.totals.merge;
  if (dropped > 0) problems.push(`${dropped} records dropped by an on-demand mapping`);
  if (gaveUp > 0) problems.push(`${gaveUp} records reached a failed topic that was deleted`);
  if (received > 0) problems.push(`${received} payloads reached Analytics while Redis was down`);

  // The operator: failed topics back, Redis back. No re-sync: the retried batch must deliver.
  await ensureTopics(
    pipeline.kafka,
    pipeline.topics.failed.map((topic) => ({ topic, numPartitions: 1 })),
  );
  await proxy.heal();
  await ctx.drain(pipeline);
  if (pipeline.totals.merge.dropped > 0)
    problems.push(`${pipeline.totals.merge.dropped} records dropped after healing`);
  // A give-up write still inside the producer's retries when the topic came back lands there:
  // those records are kept on failed_<topic>, and the operator's re-drive delivers them.
  const late = pipeline.totals.merge.gaveUp;
  const deliveredByRetry = received;
  if (late > 0) {
    const redrive = await pipeline.redriveFailedBatches(120_000);
    if (redrive.records !== late)
      problems.push(`${late} records given up, ${redrive.records} re-driven`);
    if (redrive.remaining > 0) problems.push(`${redrive.remaining} records left after re-drive`);
  }
  ctx.note(
    `${writeFailures} failed-topic write(s) failed with failed_<topic> deleted; nothing dropped; once healed the retried batches delivered ${deliveredByRetry}, ${late} records given up late were re-driven`,
  );
  return { pipeline, problems, cleanup: () => proxy.stop() };
}

export const DESTINATION_SCENARIOS: Scenario[] = [
  {
    // Lambda drops records it can write neither to the function nor to the on-failure
    // destination, and says so only in DroppedEventCount and OnFailureDestinationDeliveryErrorCount
    // (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics).
    // The row checks the emulator counts them under those names, the run's summary says how
    // many, and the operator's answer to that alarm (a full re-sync) leaves nothing lost.
    name: 'failure destination unwritable: dropped then re-synced, or retried (on-demand)',
    long: true,
    budget: `${RETRY_ATTEMPTS} batch retries, failed_<topic> gone, then a full re-sync`,
    async run(ctx): Promise<ScenarioResult> {
      if (ctx.mapping === 'on-demand') return unwritableOnDemand(ctx);
      const problems: string[] = [];
      const target = new URL(ctx.redisUrl);
      const proxy = await new TcpProxy(target.hostname, Number(target.port || 6379)).start();
      let open: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      let received = 0;
      const pipeline = await ctx.start({
        retryAttempts: RETRY_ATTEMPTS,
        // Every run re-reads the sources: the re-sync that answers a DroppedEventCount alarm.
        full: true,
        mergeRedisUrl: `redis://127.0.0.1:${proxy.port}`,
        onAnalyticsReceive: () => {
          received++;
        },
        interceptMerge: (merge) => async (event) => {
          await gate;
          return merge(event);
        },
      });
      await deleteTopics(pipeline.kafka, pipeline.topics.failed);
      await ctx.fetchInBackground(pipeline);
      proxy.cut();
      open();
      await ctx.drain(pipeline);
      const { dropped, gaveUp } = pipeline.totals.merge;
      if (dropped === 0) problems.push('no record was dropped: the fault was not met');
      if (gaveUp > 0) problems.push(`${gaveUp} records reached a failed topic that was deleted`);
      if (received > 0)
        problems.push(`${received} payloads reached Analytics while Redis was down`);
      const summary = await summarize(pipeline, 1);
      if (!summary.includes(`DROPPED: ${dropped} record(s)`))
        problems.push(`the run's summary does not say ${dropped} records were dropped`);

      // The operator: destination back, Redis back, a full re-sync. Nothing may be lost.
      await ensureTopics(
        pipeline.kafka,
        pipeline.topics.failed.map((topic) => ({ topic, numPartitions: 1 })),
      );
      await proxy.heal();
      await ctx.cycle(pipeline);
      if (pipeline.totals.merge.dropped !== dropped)
        problems.push(
          `${pipeline.totals.merge.dropped - dropped} more records dropped after healing`,
        );
      ctx.note(
        `${dropped} records dropped (DroppedEventCount) after ${RETRY_ATTEMPTS} retries with failed_<topic> deleted; the full re-sync delivered ${received}`,
      );
      return { pipeline, problems, cleanup: () => proxy.stop() };
    },
  },
  {
    // Analytics down through the merge's tries and through replays of the dead letters: every
    // payload stays on the dead-letter topic (the count an alarm watches), and the next replay
    // after Analytics is back delivers each once, with no operator choosing what to send.
    name: 'analytics: down past every retry budget and replays, then back',
    budget: 'none: past all tries and two replays, then the next replay',
    deadLettersExpected: true,
    async run(ctx): Promise<ScenarioResult> {
      const problems: string[] = [];
      const pipeline = await ctx.start();
      await pipeline.analytics.setDown(true);
      await ctx.cycle(pipeline);
      const lettered = pipeline.totals.merge.deadLettered;
      if (lettered === 0) problems.push('nothing was dead-lettered: the fault was not met');
      for (const attempt of [1, 2]) {
        const replay = await pipeline.replayDeadLetters(60_000);
        if (replay.posted > 0)
          problems.push(`replay ${attempt} delivered while Analytics was down`);
        if (replay.remaining !== lettered)
          problems.push(`replay ${attempt} left ${replay.remaining} of ${lettered} letters`);
      }
      await pipeline.analytics.setDown(false);
      const back = await pipeline.replayDeadLetters(60_000);
      if (back.remaining > 0)
        problems.push(`${back.remaining} letters left once Analytics was back`);
      if (back.posted !== lettered)
        problems.push(`${lettered} dead-lettered, ${back.posted} delivered by the replay`);
      const after = await pipeline.replayDeadLetters(60_000);
      if (after.letters > 0) problems.push(`a later replay read ${after.letters} letters again`);
      ctx.note(
        `${lettered} dead-lettered; two replays while down left all ${lettered}; the next one delivered ${back.posted}`,
      );
      return { pipeline, problems };
    },
  },
];
