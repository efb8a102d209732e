import type { MSKEvent } from 'aws-lambda';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { FAILED_HEADERS } from '../shared/domain/failed-batch.ts';
import type { DecodedRecord } from '../shared/domain/kafka-record.ts';
import { encodeMskEvent } from './msk-event.ts';

/** Lambda's default for the stack's mappings (pipeline:mergeRetryAttempts). */
export const DEFAULT_RETRY_ATTEMPTS = 10;

export type EsmOptions = {
  kafka: Kafka;
  topic: string;
  groupId: string;
  /** Largest number of records in one invocation (Lambda's BatchSize). */
  batchSize: number;
  bootstrapServers: string;
  invoke: (event: MSKEvent) => Promise<unknown>;
  /**
   * Retries of a failing batch after its first invocation (Lambda's MaximumRetryAttempts; default
   * 10, as the stack's mergeRetryAttempts). Then the batch goes to `failedTopic` and the mapping
   * moves on. Without a failedTopic the batch is retried until it succeeds.
   */
  retryAttempts?: number;
  /** The on-failure destination: a topic of the same cluster that receives the records. */
  failedTopic?: string;
  /**
   * `provisioned` (default): the mapping above. `on-demand`: as AWS documents a Kafka mapping
   * without provisioned pollers: any answer is a success (a partial batch response is ignored,
   * its records committed), a failing batch is retried until it succeeds, and there is no retry
   * limit or on-failure destination (retryAttempts and failedTopic are not used).
   * docs/design.md, "Mappings without provisioned pollers".
   */
  mode?: 'provisioned' | 'on-demand';
  /** Told when a batch is handed to the failed topic after its last retry. */
  onGiveUp?: (error: unknown, records: number) => void;
  /**
   * Told when a batch out of retries could not be written to the failed topic either: its
   * records are dropped and the mapping moves on, as Lambda does (DroppedEventCount).
   */
  onDrop?: (writeError: unknown, records: number) => void;
  /** Told about each failed invocation; the batch is then retried after a backoff. */
  onFailure?: (error: unknown, attempt: number, records: number) => void;
  /** Told about each invocation that returned, a partial batch response included. */
  onSuccess?: (result: unknown, records: number) => void;
  /** Told when an invocation reports records failed: the batch is retried from `offset`. */
  onPartialFailure?: (offset: string, records: number) => void;
  /** Told when the consumer crashes; `restart` says whether kafkajs starts it again. */
  onCrash?: (error: Error, restart: boolean) => void;
};

/**
 * Stands in for Lambda's MSK event source mapping: consumes a topic, builds the exact MSK event
 * for each batch (at most batchSize records of one partition), invokes the handler, and commits
 * the offsets only after it succeeds. A partial batch response (ReportBatchItemFailures) commits
 * the records before the lowest failed offset and retries the batch from that offset. A failed
 * batch is retried, with backoff, up to the
 * configured retry attempts (nothing after it in that partition is processed meanwhile); then,
 * as Lambda does with a Kafka on-failure destination, its records go to the failed topic and the
 * offsets are committed past them. When that write fails too, Lambda drops the records and moves
 * on, counting them in DroppedEventCount and the failed write in
 * OnFailureDestinationDeliveryErrorCount instead of OnFailureDestinationDeliveredEventCount
 * (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics):
 * so does the emulator, and `metrics` holds those counts under the names AWS gives them.
 */
export class EsmEmulator {
  #consumer: Consumer;
  /** Next offset to process, per partition: what has been committed. */
  readonly committed = new Map<number, bigint>();
  failures = 0;
  /** Invocations that answered with a partial batch response (some records to retry). */
  partialFailures = 0;
  invocations = 0;
  /** Batches, and their records, handed to the failed topic after the last retry. */
  gaveUp = { batches: 0, records: 0 };
  /** The event source mapping metrics of the EventCount and ErrorCount groups it emulates. */
  readonly metrics = {
    /** Records out of retries that reached the on-failure destination. */
    OnFailureDestinationDeliveredEventCount: 0,
    /** Records out of retries that did not reach it either: lost to the mapping. */
    DroppedEventCount: 0,
    /** Failed writes to the on-failure destination (one per batch). */
    OnFailureDestinationDeliveryErrorCount: 0,
  };
  #producer: Producer | undefined;
  /** Set when the consumer crashed and kafkajs will not restart it: nothing more is consumed. */
  crashed: Error | undefined;
  #stopping = false;
  readonly groupId: string;

  constructor(private readonly options: EsmOptions) {
    this.groupId = options.groupId;
    this.#consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: 4 * 1024 * 1024,
      retry: { retries: 10 },
    });
  }

  async start(): Promise<void> {
    const { topic } = this.options;
    this.#consumer.on(this.#consumer.events.CRASH, ({ payload }) => {
      this.options.onCrash?.(payload.error, payload.restart);
      if (!payload.restart) this.crashed = payload.error;
    });
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic, fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        const records: DecodedRecord[] = batch.messages.map((message) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          timestamp: Number(message.timestamp),
          key: message.key === null ? null : message.key.toString('utf8'),
          value: message.value === null ? null : message.value.toString('utf8'),
          headers: Object.fromEntries(
            Object.entries(message.headers ?? {}).flatMap(([name, value]) =>
              value === undefined
                ? []
                : [[name, Array.isArray(value) ? value.join(',') : value.toString()]],
            ),
          ),
        }));
        /** Commits the partition up to `next` (the next offset to process). */
        const checkpoint = async (next: string) => {
          await this.#consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: next },
          ]);
          this.committed.set(batch.partition, BigInt(next));
          resolveOffset((BigInt(next) - 1n).toString());
          await heartbeat();
        };
        for (let start = 0; start < records.length; start += this.options.batchSize) {
          if (!isRunning() || isStale() || this.#stopping) return;
          const chunk = records.slice(start, start + this.options.batchSize);
          await this.#invokeUntilSuccess(chunk, heartbeat, checkpoint);
          const last = chunk[chunk.length - 1];
          if (!last) continue;
          await checkpoint((BigInt(last.offset) + 1n).toString());
        }
      },
    });
  }

  async #invokeUntilSuccess(
    chunk: DecodedRecord[],
    heartbeat: () => Promise<void>,
    checkpoint: (next: string) => Promise<void>,
  ): Promise<void> {
    const onDemand = this.options.mode === 'on-demand';
    const retries = this.options.retryAttempts ?? DEFAULT_RETRY_ATTEMPTS;
    let remaining = chunk;
    let event = this.#eventOf(remaining);
    const backoff = async (attempt: number) => {
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** (attempt - 1), 5_000)));
      await heartbeat().catch(() => {});
    };
    for (let attempt = 1; ; attempt++) {
      this.invocations++;
      // kafkajs only heartbeats when told to: an invocation longer than the session timeout
      // (a 10,000-record batch on a busy machine) would get the member evicted and its commit
      // refused ("the coordinator is not aware of this member"), which crashes the consumer.
      let heartbeatError: unknown;
      const beating = setInterval(() => {
        heartbeat().catch((error: unknown) => {
          heartbeatError ??= error;
        });
      }, 3_000);
      let result: unknown;
      try {
        result = await this.options.invoke(structuredClone(event));
      } catch (error) {
        this.failures++;
        this.options.onFailure?.(error, attempt, chunk.length);
        if (this.#stopping) throw error;
        if (!onDemand && this.options.failedTopic && attempt > retries) {
          clearInterval(beating);
          if (await this.#giveUp(remaining, error, attempt)) return;
        }
        await backoff(attempt);
        continue;
      } finally {
        clearInterval(beating);
      }
      // The group moved on (a rebalance): kafkajs rejoins and hands the batch out again, and
      // its payloads, already delivered, are skipped then.
      if (heartbeatError) throw heartbeatError;
      this.options.onSuccess?.(result, remaining.length);
      if (onDemand) return;
      const from = retryFrom(result, remaining);
      if (from === undefined) return;
      // A partial batch response, as Lambda reads it: the records before the lowest failed
      // offset are done (checkpointed); the batch is retried from that offset, and the records
      // after it are handed out again (the merge's de-duplication absorbs them). An identifier
      // that names no record of the batch makes the whole batch a failure.
      const error =
        from === 'invalid'
          ? new Error('the partial batch response names a record that is not in the batch')
          : new Error(`records from offset ${remaining[from]?.offset} reported failed`);
      if (from === 'invalid') {
        this.failures++;
        this.options.onFailure?.(error, attempt, remaining.length);
      } else {
        this.partialFailures++;
        const first = remaining[from] as DecodedRecord;
        this.options.onPartialFailure?.(first.offset, remaining.length - from);
        if (from > 0) await checkpoint(first.offset);
        remaining = remaining.slice(from);
        event = this.#eventOf(remaining);
      }
      if (this.#stopping) throw error;
      if (this.options.failedTopic && attempt > retries) {
        if (await this.#giveUp(remaining, error, attempt)) return;
      }
      await backoff(attempt);
    }
  }

  #eventOf(records: DecodedRecord[]): MSKEvent {
    return encodeMskEvent(records, {
      eventSourceArn: `arn:aws:kafka:local:000000000000:cluster/local/${this.options.groupId}`,
      bootstrapServers: this.options.bootstrapServers,
    });
  }

  /**
   * Publishes the batch's records, unchanged (key, value, headers), to the failed topic with
   * where they came from and why; when that write fails, drops them as Lambda does. Either way
   * the mapping moves past the batch (true), unless the emulator is stopping (false: retried).
   */
  async #giveUp(chunk: DecodedRecord[], error: unknown, attempts: number): Promise<boolean> {
    const topic = this.options.failedTopic as string;
    try {
      this.#producer ??= this.options.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        retry: { retries: 3 },
      });
      await this.#producer.connect();
      await this.#producer.send({
        topic,
        acks: -1,
        messages: chunk.map((record) => ({
          key: record.key,
          value: record.value,
          headers: {
            ...record.headers,
            [FAILED_HEADERS.topic]: record.topic,
            [FAILED_HEADERS.partition]: String(record.partition),
            [FAILED_HEADERS.offset]: record.offset,
            [FAILED_HEADERS.attempts]: String(attempts),
            [FAILED_HEADERS.reason]: (error as Error).message ?? String(error),
          },
        })),
      });
    } catch (writeError) {
      if (this.#stopping) return false;
      this.metrics.OnFailureDestinationDeliveryErrorCount++;
      this.metrics.DroppedEventCount += chunk.length;
      this.options.onDrop?.(writeError, chunk.length);
      return true;
    }
    this.gaveUp.batches++;
    this.gaveUp.records += chunk.length;
    this.metrics.OnFailureDestinationDeliveredEventCount += chunk.length;
    this.options.onGiveUp?.(error, chunk.length);
    return true;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#consumer.disconnect();
    await this.#producer?.disconnect();
  }
}

/**
 * Where a partial batch response ({"batchItemFailures":[{"itemIdentifier":{"partition":
 * "topic-0","offset":N}}]}) says to retry the batch from: the index of its lowest failed record;
 * undefined when it reports none (or is not a partial batch response: a complete success);
 * 'invalid' when an identifier names no record of the batch.
 */
export function retryFrom(
  result: unknown,
  batch: readonly DecodedRecord[],
): number | 'invalid' | undefined {
  const failures = (result as { batchItemFailures?: unknown } | null)?.batchItemFailures;
  if (!Array.isArray(failures) || failures.length === 0) return undefined;
  let lowest: number | undefined;
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: { partition?: unknown; offset?: unknown } })
      ?.itemIdentifier;
    const index = batch.findIndex(
      (record) =>
        id?.partition === `${record.topic}-${record.partition}` &&
        typeof id.offset === 'number' &&
        String(id.offset) === record.offset,
    );
    if (index < 0) return 'invalid';
    lowest = lowest === undefined ? index : Math.min(lowest, index);
  }
  return lowest;
}

/**
 * Waits until every partition of the topics has been committed up to its end offset (the
 * consumers have caught up with what was published). Throws after the deadline.
 */
export async function waitForDrain(
  kafka: Kafka,
  emulators: { topic: string; esm: EsmEmulator }[],
  timeoutMs: number,
  onWait: () => void = () => {},
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let behind: bigint | 'unknown';
      try {
        behind = await offsetsBehind(admin, emulators);
      } catch (error) {
        // A broker that is restarting answers NOT_COORDINATOR and the like for a while.
        if (!(error as { retriable?: boolean }).retriable || Date.now() > deadline) throw error;
        behind = 'unknown';
      }
      if (behind === 0n) return;
      if (Date.now() > deadline)
        throw new Error(`consumers still ${behind} record(s) behind after ${timeoutMs / 1000} s`);
      onWait();
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

/** Records published but not yet committed, over every partition of the emulators' topics. */
async function offsetsBehind(
  admin: Admin,
  emulators: { topic: string; esm: EsmEmulator }[],
): Promise<bigint> {
  let behind = 0n;
  for (const { topic, esm } of emulators) {
    if (esm.crashed)
      throw new Error(`the consumer of ${topic} crashed for good: ${esm.crashed.message}`);
    const [committed] = await admin.fetchOffsets({ groupId: esm.groupId, topics: [topic] });
    const done = new Map(
      committed?.partitions.map((p) => [p.partition, BigInt(Math.max(0, Number(p.offset)))]),
    );
    for (const { partition, high } of await admin.fetchTopicOffsets(topic)) {
      const at = done.get(partition) ?? 0n;
      if (BigInt(high) > at) behind += BigInt(high) - at;
    }
  }
  return behind;
}
