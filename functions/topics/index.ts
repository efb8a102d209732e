import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createKafka } from '../../shared/adapters/kafka.ts';
import { ensureTopics, type TopicSpec } from '../../shared/adapters/kafka-topics.ts';
import { loadAdminConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';

const config = loadAdminConfig();
const logger = createLogger('topic-admin', config.LOG_LEVEL);
const kafka = createKafka(
  {
    brokers: config.KAFKA_BROKERS,
    clientId: `${config.KAFKA_CLIENT_ID}-admin`,
    auth: config.KAFKA_AUTH,
    ...(config.AWS_REGION && { region: config.AWS_REGION }),
  },
  (line) => logger.warn(line),
);

/**
 * Custom resource handler (behind the CDK Provider): creates the missing topics on create and
 * update. On delete it leaves the topics, and their records, where they are.
 */
export const handler = async (event: CloudFormationCustomResourceEvent) => {
  const topics = (event.ResourceProperties.topics ?? []) as {
    topic: string;
    numPartitions: string | number;
  }[];
  const physicalResourceId = 'pipeline-topics';
  if (event.RequestType === 'Delete') return { PhysicalResourceId: physicalResourceId };
  const specs: TopicSpec[] = topics.map((spec) => ({
    topic: spec.topic,
    numPartitions: Number(spec.numPartitions),
  }));
  const created = await ensureTopics(kafka, specs);
  logger.info('topics ensured', { requested: specs.map((spec) => spec.topic), created });
  return { PhysicalResourceId: physicalResourceId, Data: { created: created.join(',') } };
};
