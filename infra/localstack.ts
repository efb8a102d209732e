/**
 * What the `localstack` target points the stack at: the services of
 * docker-compose.localstack.yml, by their names on its network (the Lambda containers LocalStack
 * starts join that network, and so does LocalStack itself, whose Kafka poller reads the broker).
 * Plain values, no CDK imports: the compose test and the deploy scripts read them too.
 */
export const COMPOSE_NETWORK = 'kafka-merge-pipeline';

const COMPOSE_SERVICES = {
  /** apache/kafka in KRaft mode, PLAINTEXT listener advertised as kafka:9092. */
  kafka: { host: 'kafka', port: 9092 },
  /** Valkey without TLS or AUTH. */
  valkey: { host: 'valkey', port: 6379 },
  /** local/mocks/serve.ts started with --base-port 4010: CRM, Inventory, Analytics. */
  mocks: { host: 'mocks', ports: { crm: 4010, inventory: 4011, analytics: 4012 } },
} as const;

const { kafka, valkey, mocks } = COMPOSE_SERVICES;

/** The endpoints the localstack target's functions and mappings get. */
export const LOCALSTACK_ENDPOINTS = {
  kafkaBootstrapServers: `${kafka.host}:${kafka.port}`,
  redisUrl: `redis://${valkey.host}:${valkey.port}`,
  sourceBaseUrls: {
    crm: `http://${mocks.host}:${mocks.ports.crm}`,
    inventory: `http://${mocks.host}:${mocks.ports.inventory}`,
  } as Record<string, string>,
  analyticsUrl: `http://${mocks.host}:${mocks.ports.analytics}/analytics`,
};

/**
 * Region the localstack target is deployed to (npm run deploy:local sets it). The VPC names its
 * availability zones from it, because LocalStack documents Fn::GetAZs as unsupported.
 */
export const LOCALSTACK_REGION = 'us-east-1';

/** The LocalStack gateway on the host, as docker-compose.localstack.yml publishes it. */
export const LOCALSTACK_GATEWAY = 'http://localhost:4566';
