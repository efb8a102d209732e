import type { Kafka } from 'kafkajs';
import { catchUpToEnd } from '../../shared/adapters/kafka-catch-up.ts';
import { failedTopicOf } from '../../shared/domain/failed-batch.ts';
import type { MergeDeps } from '../../shared/use-cases/merge-batch.ts';
import {
  addToRedrive,
  emptyRedriveSummary,
  type RedriveSummary,
  redriveFailedRecords,
} from '../../shared/use-cases/redrive-batches.ts';

export type RedriveOptions = {
  kafka: Kafka;
  /** Source topics (with any run prefix) whose failed_<topic> topics are read. */
  sourceTopics: string[];
  /** Prefix of the topic names (TOPIC_PREFIX); the failed topics carry it too. */
  topicPrefix: string;
  /** Consumer group that remembers how far re-drives got. */
  groupId: string;
  deps: MergeDeps;
  /** Records merged at once (one merge batch). */
  chunkSize?: number;
  /** Told after each chunk: what has been done so far and how many messages are left. */
  onProgress?: (done: RedriveSummary, left: number) => void;
  /** Gives up waiting after this long (what was committed stays committed). */
  timeoutMs?: number;
};

/**
 * Re-drives the failed_<topic> topics through the merge, from where the last re-drive stopped to
 * the end each partition had when this one began. A chunk's offsets are committed only after its
 * merge succeeded (its payloads delivered, or found already delivered, or dead-lettered): the
 * consumer group's offsets are the mark of what has been re-driven, and nothing is deleted. When
 * a chunk fails (Redis or Kafka down again), its partition stops there, and the next re-drive
 * starts with that chunk; its payloads delivered before the failure are then skipped.
 */
export async function redriveFailedBatches(options: RedriveOptions): Promise<RedriveSummary> {
  const { topicPrefix } = options;
  const topics = new Map(
    options.sourceTopics.map((source) => [
      topicPrefix + failedTopicOf(source.slice(topicPrefix.length)),
      source,
    ]),
  );
  const total = emptyRedriveSummary();
  let left = 0;
  await catchUpToEnd(options.kafka, {
    topics: [...topics.keys()],
    groupId: options.groupId,
    chunkSize: options.chunkSize ?? 500,
    timeoutMs: options.timeoutMs ?? 300_000,
    what: 're-drive',
    onPending: (ranges) => {
      for (const { start, end } of ranges.values()) left += Number(end - start);
    },
    onChunk: async (chunk, { topic, partition, end }) => {
      const sourceTopic = topics.get(topic);
      if (sourceTopic === undefined) return { stop: true };
      const first = chunk[0]?.offset;
      try {
        addToRedrive(total, await redriveFailedRecords(chunk, sourceTopic, options.deps));
      } catch (error) {
        // Left for the next re-drive, from the first record of this chunk.
        total.remaining += Number(end - BigInt(first ?? end));
        options.deps.log.error('re-drive of a failed batch failed; run it again', {
          error: error as Error,
          topic,
          partition,
          offset: first,
        });
        return { stop: true };
      }
      left -= chunk.length;
      options.onProgress?.({ ...total }, left);
      return { commit: BigInt(chunk.at(-1)?.offset ?? '0') + 1n };
    },
  });
  return total;
}
