import type { Kafka } from 'kafkajs';
import { catchUpToEnd } from '../../shared/adapters/kafka-catch-up.ts';
import type { Log } from '../../shared/logger.ts';
import type { OnceDelivery } from '../../shared/ports.ts';
import { type ReplaySummary, replayLetters } from '../../shared/use-cases/replay-letters.ts';

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
  const { topic } = options;
  const total: TopicReplayResult = {
    letters: 0,
    posted: 0,
    duplicates: 0,
    failed: 0,
    remaining: 0,
  };
  await catchUpToEnd(options.kafka, {
    topics: [topic],
    groupId: options.groupId,
    timeoutMs: options.timeoutMs ?? 120_000,
    what: `replay of ${topic}`,
    onChunk: async (letters, { end }) => {
      const { summary, failedIds } = await replayLetters(
        letters.map((letter) => ({ id: letter.offset, body: letter.value ?? '' })),
        options.delivery,
        options.log,
      );
      total.letters += summary.letters;
      total.posted += summary.posted;
      total.duplicates += summary.duplicates;
      total.failed += summary.failed;
      const firstFailed = failedIds[0];
      if (firstFailed === undefined) {
        return { commit: BigInt(letters.at(-1)?.offset ?? '0') + 1n };
      }
      total.remaining += Number(end - BigInt(firstFailed));
      return { commit: BigInt(firstFailed), stop: true };
    },
  });
  return total;
}
