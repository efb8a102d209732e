import type { Kafka, KafkaMessage } from 'kafkajs';
import type { DecodedRecord } from '../domain/kafka-record.ts';

/** One stored record read back from a topic, key, value and headers as text (not checked). */
export type StoredRecord = Omit<DecodedRecord, 'checked'>;

/** Where a chunk came from, and the offset its partition is read up to (exclusive). */
export type ChunkOrigin = { topic: string; partition: number; end: bigint };

/**
 * What the caller made of a chunk: the offset to commit (the next one to read), if any, and
 * whether its partition stops here. A partition also stops once the commit reaches its end.
 */
export type ChunkVerdict = { commit?: bigint; stop?: boolean };

export type CatchUpOptions = {
  topics: string[];
  /** The consumer group whose committed offsets mark how far earlier runs got. */
  groupId: string;
  /** Most records handed over at once; unset, each fetch is one chunk. */
  chunkSize?: number;
  timeoutMs: number;
  /** Names the run in the timeout error (`replay of dead_letter`). */
  what: string;
  /** Told, before any record is read, which partitions have records to read, and how many. */
  onPending?: (ranges: PendingRanges) => void;
  onChunk(records: StoredRecord[], origin: ChunkOrigin): Promise<ChunkVerdict>;
};

/** Partitions with records past a group's committed offset: from there to the end they have. */
export type PendingRanges = Map<`${string}:${number}`, { start: bigint; end: bigint }>;

/**
 * Reads `topics` as the consumer group `groupId`, each partition from the group's committed
 * offset (else its first record) to the end it had when the run began, and hands the records
 * to `onChunk` in order. Offsets are committed only where `onChunk` says, so the group's offsets
 * are the record of what was done; nothing is deleted. Resolves once every partition reached
 * its end or was stopped; rejects with the error `onChunk` threw, or after `timeoutMs`.
 */
export async function catchUpToEnd(kafka: Kafka, options: CatchUpOptions): Promise<void> {
  const { groupId, topics } = options;
  const pending = await pendingRanges(kafka, groupId, topics);
  options.onPending?.(pending);
  if (pending.size === 0) return;

  const consumer = kafka.consumer({ groupId, sessionTimeout: 30_000 });
  let finish: (error?: unknown) => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    finish = (error) => (error === undefined ? resolve() : reject(error));
  });
  const stop = (key: `${string}:${number}`) => {
    pending.delete(key);
    if (pending.size === 0) finish();
  };
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, heartbeat }) => {
        const key = `${batch.topic}:${batch.partition}` as const;
        const range = pending.get(key);
        if (!range) return;
        const commit = (offset: bigint) =>
          consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: offset.toString() },
          ]);
        const inRange = batch.messages.filter(
          (message) => BigInt(message.offset) >= range.start && BigInt(message.offset) < range.end,
        );
        if (inRange.length === 0) {
          if (batch.messages.some((message) => BigInt(message.offset) >= range.end)) {
            await commit(range.end);
            stop(key);
          }
          return;
        }
        const size = options.chunkSize ?? inRange.length;
        const origin = { topic: batch.topic, partition: batch.partition, end: range.end };
        for (let at = 0; at < inRange.length; at += size) {
          const chunk = inRange.slice(at, at + size);
          let verdict: ChunkVerdict;
          try {
            verdict = await options.onChunk(
              chunk.map((message) => storedRecord(batch.topic, batch.partition, message)),
              origin,
            );
          } catch (error) {
            finish(error);
            return;
          }
          if (verdict.commit !== undefined) {
            await commit(verdict.commit);
            range.start = verdict.commit;
          }
          if (verdict.stop || range.start >= range.end) {
            stop(key);
            return;
          }
          await heartbeat();
        }
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`${options.what} did not finish in ${options.timeoutMs / 1000} s`)),
          options.timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
}

/** Per partition of `topics`: from the group's committed offset to the end it has now. */
async function pendingRanges(
  kafka: Kafka,
  groupId: string,
  topics: string[],
): Promise<PendingRanges> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const pending: PendingRanges = new Map();
    const committed = await whileNotCoordinated(() => admin.fetchOffsets({ groupId, topics }));
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

function storedRecord(topic: string, partition: number, message: KafkaMessage): StoredRecord {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(',') : value.toString();
  }
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: Number(message.timestamp),
    key: message.key?.toString('utf8') ?? null,
    value: message.value?.toString('utf8') ?? null,
    headers,
  };
}

/**
 * A group's first offset fetch on a broker that is still loading its coordinator answers
 * NOT_COORDINATOR (retriable); kafkajs' admin does not retry it. A few tries, then the error.
 */
async function whileNotCoordinated<T>(call: () => Promise<T>, tries = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error as { retriable?: boolean }).retriable || attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}
