import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';

export type TopicMessage = {
  key: string | null;
  value: string;
  headers: Record<string, string>;
  partition: number;
  offset: string;
  timestamp: number;
};

/**
 * Reads a topic from the beginning until `count` messages have arrived (or the deadline), with
 * a throwaway consumer group.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  count: number,
  timeoutMs = 20_000,
): Promise<TopicMessage[]> {
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}` });
  const messages: TopicMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void = () => {};
    const enough = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        messages.push({
          partition,
          offset: message.offset,
          timestamp: Number(message.timestamp),
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? '',
          headers: Object.fromEntries(
            Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
          ),
        });
        if (messages.length >= count) done();
      },
    });
    await Promise.race([enough, new Promise((r) => setTimeout(r, timeoutMs))]);
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

/** Publishes raw messages (anything, valid or not) to a topic. */
export async function produceRaw(
  kafka: Kafka,
  topic: string,
  messages: { key: string | null; value: string; headers?: Record<string, string> }[],
): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages });
  } finally {
    await producer.disconnect();
  }
}
