import type { Kafka } from 'kafkajs';
import { encodeMskEvent } from '../../local/msk-event.ts';
import { readTopic, type TopicMessage } from './kafka.ts';
import type { Invocation } from './lambda-sandbox.ts';

/*
 * What the artifact tests do with the broker and the sandboxed bundles, whichever target the
 * template was synthesized for.
 */

/** The invocation's result; throws with the function's last log lines when it failed. */
export function expectSuccess(invocation: Invocation, sandboxLogs: string[]): unknown {
  if (!invocation.ok)
    throw new Error(
      `${invocation.error.message}\n--- logs ---\n${sandboxLogs.slice(-30).join('\n')}`,
    );
  return invocation.result;
}

/**
 * The high watermark of each partition of `topic`. Retries what the broker calls retriable
 * (a partition whose leader it has not taken up yet, right after the topic was created) for up
 * to `timeoutMs`.
 */
export async function highWatermarks(
  kafka: Kafka,
  topic: string,
  timeoutMs = 30_000,
): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        return new Map(offsets.map((entry) => [entry.partition, BigInt(entry.high)]));
      } catch (error) {
        const retriable = (error as { retriable?: boolean }).retriable === true;
        if (!retriable || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Messages appended to `topic` since `before` (per-partition high watermarks). */
export async function messagesSince(
  kafka: Kafka,
  topic: string,
  before: Map<number, bigint>,
): Promise<TopicMessage[]> {
  const after = await highWatermarks(kafka, topic);
  let total = 0;
  for (const offset of after.values()) total += Number(offset);
  const all = await readTopic(kafka, topic, total, 90_000);
  if (all.length < total)
    throw new Error(`read ${all.length} of the ${total} messages of ${topic}`);
  return all.filter((message) => BigInt(message.offset) >= (before.get(message.partition) ?? 0n));
}

/** The event a Kafka event source mapping would deliver for these messages of `topic`. */
export function kafkaEventOf(messages: TopicMessage[], topic: string) {
  return encodeMskEvent(
    messages.map((message) => ({
      topic,
      partition: message.partition,
      offset: message.offset,
      timestamp: message.timestamp,
      key: message.key,
      value: message.value,
      headers: message.headers,
    })),
    {
      eventSourceArn: 'arn:aws:kafka:us-east-1:000000000000:cluster/artifact/1',
      bootstrapServers: '',
    },
  );
}
