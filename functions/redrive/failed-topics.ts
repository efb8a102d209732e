import type { Kafka } from 'kafkajs';
import { failedTopicOf } from '../../shared/domain/failed-batch.ts';
import type { MergeDeps } from '../../shared/pipeline/merge-batch.ts';
import {
  addToRedrive,
  emptyRedriveSummary,
  type RedriveSummary,
  redriveFailedRecords,
} from '../../shared/pipeline/redrive-batches.ts';

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
  /** Told after each chunk: what has been done so far and what is left. */
  onProgress?: (done: RedriveSummary, left: number) => void;
  /** Gives up waiting after this long (what was committed stays committed). */
  timeoutMs?: number;
};

type PartitionKey = `${string}:${number}`;

/**
 * Re-drives the failed_<topic> topics through the merge, from where the last re-drive stopped to
 * the end each partition had when this one began. A chunk's offsets are committed only after its
 * merge succeeded (its payloads delivered, or found already delivered, or dead-lettered): the
 * consumer group's offsets are the mark of what has been re-driven, and nothing is deleted. When
 * a chunk fails (Redis or Kafka down again), its partition stops there, and the next re-drive
 * starts with that chunk; its payloads delivered before the failure are then skipped.
 */
export async function redriveFailedBatches(options: RedriveOptions): Promise<RedriveSummary> {
  const { kafka, groupId, topicPrefix } = options;
  const chunkSize = options.chunkSize ?? 500;
  const topics = new Map(
    options.sourceTopics.map((source) => [
      topicPrefix + failedTopicOf(source.slice(topicPrefix.length)),
      source,
    ]),
  );
  const total = emptyRedriveSummary();
  const pending = await pendingPartitions(kafka, groupId, [...topics.keys()]);
  let left = [...pending.values()].reduce((sum, { end, start }) => sum + Number(end - start), 0);
  if (pending.size === 0) return total;

  const consumer = kafka.consumer({ groupId, sessionTimeout: 30_000 });
  let finish: (error?: Error) => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    finish = (error) => (error ? reject(error) : resolve());
  });
  const stop = (key: PartitionKey) => {
    pending.delete(key);
    if (pending.size === 0) finish();
  };
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics.keys()], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, heartbeat }) => {
        const key: PartitionKey = `${batch.topic}:${batch.partition}`;
        const range = pending.get(key);
        const sourceTopic = topics.get(batch.topic);
        if (!range || sourceTopic === undefined) return;
        const messages = batch.messages.filter(
          (message) => BigInt(message.offset) >= range.start && BigInt(message.offset) < range.end,
        );
        for (let at = 0; at < messages.length; at += chunkSize) {
          const chunk = messages.slice(at, at + chunkSize);
          try {
            const summary = await redriveFailedRecords(
              chunk.map((message) => ({
                partition: batch.partition,
                offset: message.offset,
                timestamp: Number(message.timestamp),
                key: message.key?.toString('utf8') ?? null,
                value: message.value?.toString('utf8') ?? null,
                headers: headersOf(message.headers),
              })),
              sourceTopic,
              options.deps,
            );
            addToRedrive(total, summary);
          } catch (error) {
            // Left for the next re-drive, from the first record of this chunk.
            total.remaining += Number(range.end - BigInt(chunk[0]?.offset ?? range.end));
            options.deps.log.error('re-drive of a failed batch failed; run it again', {
              error: error as Error,
              topic: batch.topic,
              partition: batch.partition,
              offset: chunk[0]?.offset,
            });
            stop(key);
            return;
          }
          const next = BigInt(chunk.at(-1)?.offset ?? '0') + 1n;
          await consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: next.toString() },
          ]);
          range.start = next;
          left -= chunk.length;
          options.onProgress?.({ ...total }, left);
          await heartbeat();
        }
        if (range.start >= range.end) stop(key);
      },
    });
    const timeoutMs = options.timeoutMs ?? 300_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`re-drive did not finish in ${timeoutMs / 1000} s`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return total;
}

/** Partitions with records past the group's offset: from there to the end they have now. */
async function pendingPartitions(
  kafka: Kafka,
  groupId: string,
  topics: string[],
): Promise<Map<PartitionKey, { start: bigint; end: bigint }>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const pending = new Map<PartitionKey, { start: bigint; end: bigint }>();
    const committed = await admin.fetchOffsets({ groupId, topics });
    for (const topic of topics) {
      const from = new Map(
        committed
          .find((entry) => entry.topic === topic)
          ?.partitions.map((p) => [p.partition, BigInt(Number(p.offset))]),
      );
      for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
        const at = from.get(partition);
        const start = at === undefined || at < BigInt(low) ? BigInt(low) : at;
        if (BigInt(high) > start)
          pending.set(`${topic}:${partition}`, { start, end: BigInt(high) });
      }
    }
    return pending;
  } finally {
    await admin.disconnect();
  }
}

function headersOf(
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    decoded[name] = Array.isArray(value) ? value.join(',') : value.toString();
  }
  return decoded;
}
