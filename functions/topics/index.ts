import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createKafka, kafkaConnectionOf } from '../../shared/adapters/kafka.ts';
import { ensureTopics, type TopicSpec } from '../../shared/adapters/kafka-topics.ts';
import { loadAdminConfig } from '../../shared/config.ts';
import { ConfigError } from '../../shared/errors.ts';
import { createLogger } from '../../shared/logger.ts';

const config = loadAdminConfig();
const logger = createLogger('topic-admin', config.LOG_LEVEL);
const kafka = createKafka(kafkaConnectionOf(config, `admin`), (line) => logger.warn(line));

/** The custom resource's properties as CloudFormation delivers them (numbers arrive as strings). */
function topicsOf(properties: Record<string, unknown>): {
  specs: TopicSpec[];
  replicationFactor: number;
} {
  const raw = properties.topics;
  if (!Array.isArray(raw) || raw.length === 0)
    throw new ConfigError(
      'topics',
      'the Custom::KafkaTopics resource needs a non-empty topics list',
    );
  const specs = raw.map((entry: { topic?: unknown; numPartitions?: unknown }) => {
    const numPartitions = Number(entry.numPartitions);
    if (typeof entry.topic !== 'string' || !Number.isInteger(numPartitions) || numPartitions < 1)
      throw new ConfigError('topics', `bad topic entry ${JSON.stringify(entry)}`);
    return { topic: entry.topic, numPartitions };
  });
  const replicationFactor = Number(properties.replicationFactor ?? -1);
  if (!Number.isInteger(replicationFactor) || replicationFactor === 0 || replicationFactor < -1)
    throw new ConfigError('replicationFactor', 'must be -1 (broker default) or a positive integer');
  return { specs, replicationFactor };
}

/**
 * Custom resource handler (behind the CDK Provider): creates the missing topics and adds the
 * partitions a larger declared count asks for, on create and update. A smaller count fails the
 * deployment (Kafka cannot remove partitions). On delete it leaves the topics and their records.
 */
export const handler = async (event: CloudFormationCustomResourceEvent) => {
  const physicalResourceId = 'pipeline-topics';
  if (event.RequestType === 'Delete') return { PhysicalResourceId: physicalResourceId };
  const { specs, replicationFactor } = topicsOf(event.ResourceProperties);
  const { created, grown } = await ensureTopics(kafka, specs, replicationFactor);
  logger.info('topics ensured', {
    requested: specs.map((spec) => spec.topic),
    created,
    grown,
    replicationFactor,
  });
  return { PhysicalResourceId: physicalResourceId, Data: { created: created.join(',') } };
};
