import type { Kafka } from 'kafkajs';

export type TopicSpec = { topic: string; numPartitions: number };

/**
 * Creates the topics that do not exist yet and leaves the others alone. Returns the names it
 * created. Used by the local runtime, the tests and the deploy-time custom resource.
 */
export async function ensureTopics(
  kafka: Kafka,
  specs: TopicSpec[],
  replicationFactor = 1,
): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((spec) => ({ ...spec, replicationFactor })),
      });
    }
    return missing.map((spec) => spec.topic);
  } finally {
    await admin.disconnect();
  }
}
