import type { Kafka } from 'kafkajs';
import type { Log } from '../../shared/logger.ts';
import { type ReplaySummary, replayLetters } from '../../shared/pipeline/replay-letters.ts';
import type { OnceDelivery } from '../../shared/ports.ts';

export type TopicReplayOptions = {
  kafka: Kafka;
  /** The dead-letter topic (with any prefix). */
  topic: string;
  /** Consumer group that remembers how far replays got. */
  groupId: string;
  delivery: OnceDelivery;
  log: Log;
  /** Gives up waiting for the topic to be read after this long. */
  timeoutMs?: number;
};

export type TopicReplayResult = ReplaySummary & {
  /** Letters left on the topic because Analytics refused them again (or they were unreadable). */
  remaining: number;
};

/**
 * Re-drives the dead-letter topic through the idempotent delivery, from where the last replay
 * stopped to the end the topic had when this one began. Offsets are committed only past letters
 * that were delivered (or found already delivered); at the first letter that fails again in a
 * partition, that partition stops, so the next replay starts there. Nothing is removed from the
 * topic; the consumer group's offsets are the record of what was replayed.
 */
export async function replayDeadLetterTopic(
  options: TopicReplayOptions,
): Promise<TopicReplayResult> {
  const { kafka, topic, groupId } = options;
  const total: TopicReplayResult = {
    letters: 0,
    posted: 0,
    duplicates: 0,
    failed: 0,
    remaining: 0,
  };
  const admin = kafka.admin();
  await admin.connect();
  let pending: Map<number, bigint>;
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const from = new Map(
      committed?.partitions.map((p) => [p.partition, BigInt(Math.max(0, Number(p.offset)))]),
    );
    pending = new Map();
    for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
      const start = from.get(partition) ?? BigInt(low);
      if (BigInt(high) > start) pending.set(partition, BigInt(high));
    }
  } finally {
    await admin.disconnect();
  }
  if (pending.size === 0) return total;

  const consumer = kafka.consumer({ groupId, sessionTimeout: 30_000 });
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const stopPartition = (partition: number) => {
    pending.delete(partition);
    if (pending.size === 0) finish();
  };
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch }) => {
        const end = pending.get(batch.partition);
        if (end === undefined) return;
        const messages = batch.messages.filter((message) => BigInt(message.offset) < end);
        const { summary, failedIds } = await replayLetters(
          messages.map((message) => ({
            id: message.offset,
            body: message.value?.toString('utf8') ?? '',
          })),
          options.delivery,
          options.log,
        );
        total.letters += summary.letters;
        total.posted += summary.posted;
        total.duplicates += summary.duplicates;
        total.failed += summary.failed;
        const firstFailed = failedIds.length > 0 ? BigInt(failedIds[0] ?? '0') : undefined;
        const next =
          firstFailed ?? (messages.length > 0 ? BigInt(messages.at(-1)?.offset ?? '0') + 1n : end);
        await consumer.commitOffsets([
          { topic, partition: batch.partition, offset: next.toString() },
        ]);
        if (firstFailed !== undefined) {
          total.remaining += Number(end - firstFailed);
          stopPartition(batch.partition);
        } else if (next >= end) {
          stopPartition(batch.partition);
        }
      },
    });
    const timeoutMs = options.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`replay of ${topic} did not finish in ${timeoutMs / 1000} s`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return total;
}
