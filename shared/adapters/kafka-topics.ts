import type { Kafka } from 'kafkajs';

/** A topic as the stack declares it and the topic admin creates it (infra and functions share it). */
export type TopicSpec = { topic: string; numPartitions: number };

/**
 * Replication the topic admin asks for: -1 takes the broker's default, which is what MSK
 * Serverless requires (it fixes replication itself); 1 suits the local single-node broker.
 */
export const BROKER_DEFAULT_REPLICATION = -1;

/** A declared topic that exists with more partitions than declared (Kafka cannot shrink one). */
export class TopicShrinkError extends Error {
  constructor(
    readonly topic: string,
    readonly existing: number,
    readonly declared: number,
  ) {
    super(
      `topic ${topic} has ${existing} partitions and is declared with ${declared}: Kafka cannot remove partitions; declare ${existing} or more, or create a new topic`,
    );
    this.name = 'TopicShrinkError';
  }
}

export type EnsureTopicsResult = { created: string[]; grown: string[] };

/**
 * Creates the topics that do not exist yet and adds partitions to those declared with more than
 * they have. Throws TopicShrinkError (changing nothing) when a topic has more partitions than
 * declared. Used by the local runtime, the tests and the deploy-time custom resource.
 */
export async function ensureTopics(
  kafka: Kafka,
  specs: TopicSpec[],
  replicationFactor = 1,
): Promise<EnsureTopicsResult> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const present = specs.filter((spec) => existing.has(spec.topic));
    const counts = new Map<string, number>();
    if (present.length > 0) {
      const metadata = await admin.fetchTopicMetadata({
        topics: present.map((spec) => spec.topic),
      });
      for (const topic of metadata.topics) counts.set(topic.name, topic.partitions.length);
    }
    for (const spec of present) {
      const count = counts.get(spec.topic) ?? 0;
      if (count > spec.numPartitions)
        throw new TopicShrinkError(spec.topic, count, spec.numPartitions);
    }
    const missing = specs.filter((spec) => !existing.has(spec.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((spec) => ({ ...spec, replicationFactor })),
      });
    }
    const grow = present.filter((spec) => (counts.get(spec.topic) ?? 0) < spec.numPartitions);
    if (grow.length > 0) {
      await admin.createPartitions({
        topicPartitions: grow.map((spec) => ({ topic: spec.topic, count: spec.numPartitions })),
      });
    }
    return { created: missing.map((spec) => spec.topic), grown: grow.map((spec) => spec.topic) };
  } finally {
    await admin.disconnect();
  }
}
