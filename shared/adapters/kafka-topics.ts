import type { Admin, Kafka } from 'kafkajs';
import { PipelineError } from '../errors.ts';

/** A topic as the stack declares it and the topic admin creates it (infra and functions share it). */
export type TopicSpec = { topic: string; numPartitions: number };

/**
 * Replication the topic admin asks for: -1 takes the broker's default, which is what MSK
 * Serverless requires (it fixes replication itself); 1 suits the local single-node broker.
 */
export const BROKER_DEFAULT_REPLICATION = -1;

/** A declared topic that exists with more partitions than declared (Kafka cannot shrink one). */
export class TopicShrinkError extends PipelineError {
  constructor(
    readonly topic: string,
    readonly existing: number,
    readonly declared: number,
  ) {
    super(
      `topic ${topic} has ${existing} partitions and is declared with ${declared}: Kafka cannot remove partitions; declare ${existing} or more, or create a new topic`,
    );
  }
  override readonly name = 'TopicShrinkError';
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
    if (missing.length > 0) await createAndWait(admin, missing, replicationFactor);
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

/** Metadata errors a broker gives for a topic it created a moment ago. */
const NOT_YET_KNOWN = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Creates the topics and waits for their leaders. A KRaft broker under load can answer the
 * metadata request that follows the creation with UNKNOWN_TOPIC_OR_PARTITION, before the new
 * topics reach its metadata cache (kafkajs waits out only LEADER_NOT_AVAILABLE there): the
 * metadata is then asked again, for up to 30 s, until every partition has a leader.
 */
async function createAndWait(
  admin: Admin,
  specs: TopicSpec[],
  replicationFactor: number,
): Promise<void> {
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: specs.map((spec) => ({ ...spec, replicationFactor })),
    });
    return;
  } catch (error) {
    if (!NOT_YET_KNOWN.has((error as { type?: string }).type ?? '')) throw error;
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
      if (topics.every((topic) => topic.partitions.every((p) => p.leader >= 0))) return;
      if (Date.now() > deadline) throw new Error("timed out waiting for the new topics' leaders");
    } catch (error) {
      const type = (error as { type?: string }).type ?? '';
      if (!NOT_YET_KNOWN.has(type) || Date.now() > deadline) throw error;
    }
  }
}
