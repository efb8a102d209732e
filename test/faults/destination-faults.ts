import type { Kafka } from 'kafkajs';
import { summarize } from '../../local/report.ts';
import { ensureTopics } from '../../shared/adapters/kafka-topics.ts';
import { TcpProxy } from './network.ts';
import type { Scenario, ScenarioResult } from './scenarios.ts';

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

export const DESTINATION_SCENARIOS: Scenario[] = [
  {
    // Lambda drops records it can write neither to the function nor to the on-failure
    // destination, and says so only in DroppedEventCount and OnFailureDestinationDeliveryErrorCount
    // (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics).
    // The row checks the emulator counts them under those names, the run's summary says how
    // many, and the operator's answer to that alarm (a full re-sync) leaves nothing lost.
    name: 'failure destination unwritable: records dropped, counted, re-synced',
    long: true,
    budget: `${RETRY_ATTEMPTS} batch retries, failed_<topic> gone, then a full re-sync`,
    async run(ctx): Promise<ScenarioResult> {
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
