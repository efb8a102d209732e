import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import {
  Kafka,
  type KafkaConfig,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
} from 'kafkajs';
import { DependencyUnavailableError } from '../errors.ts';
import type { OutboundMessage, Publisher } from '../ports.ts';

export type KafkaConnection = {
  brokers: string[];
  clientId: string;
  /** 'iam' signs in to MSK with SASL/OAUTHBEARER and TLS; 'none' is plaintext (local broker). */
  auth: 'none' | 'iam';
  region?: string;
};

/** The settings every function's config carries for Kafka (shared/config.ts). */
type KafkaSettings = {
  KAFKA_BROKERS: string[];
  KAFKA_CLIENT_ID: string;
  KAFKA_AUTH: 'none' | 'iam';
  AWS_REGION?: string | undefined;
};

/** The connection a function's parsed config describes; `role` ends the client id (merge, …). */
export function kafkaConnectionOf(config: KafkaSettings, role: string): KafkaConnection {
  return {
    brokers: config.KAFKA_BROKERS,
    clientId: `${config.KAFKA_CLIENT_ID}-${role}`,
    auth: config.KAFKA_AUTH,
    ...(config.AWS_REGION && { region: config.AWS_REGION }),
  };
}

/**
 * One kafkajs log entry as a line: its component, its message and, when it names them, the error
 * (a connection refused, a coordinator not available), the broker and the retry, without which
 * "Response GroupCoordinator(key: 10, version: 2)" says nothing of what went wrong.
 */
export function kafkaLogLine(
  namespace: string,
  entry: { message: string; error?: unknown; broker?: unknown; retryCount?: unknown },
): string {
  const where = namespace ? `[${namespace}] ` : '';
  const error = entry.error === undefined || entry.error === '' ? '' : `: ${String(entry.error)}`;
  const details = [
    ...(entry.broker === undefined ? [] : [`broker ${String(entry.broker)}`]),
    ...(entry.retryCount === undefined ? [] : [`retry ${String(entry.retryCount)}`]),
  ];
  return `kafkajs ${where}${entry.message}${error}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
}

/** Builds the kafkajs client. This module is the only one that knows kafkajs exists. */
export function createKafka(connection: KafkaConnection, log?: (line: string) => void): Kafka {
  const config: KafkaConfig = {
    clientId: connection.clientId,
    brokers: connection.brokers,
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    // kafkajs warns about conditions it retries itself; only its errors reach our warn level.
    logCreator:
      () =>
      ({ namespace, level, log: entry }) => {
        if (level <= logLevel.ERROR) log?.(kafkaLogLine(namespace, entry));
      },
  };
  if (connection.auth === 'iam') {
    const region = connection.region;
    if (!region) throw new Error('IAM auth to MSK needs a region');
    config.ssl = true;
    config.sasl = {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => {
        const { token } = await generateAuthToken({ region });
        return { value: token };
      },
    };
  }
  return new Kafka(config);
}

/** Largest number of messages in one produce request; larger publishes are split. */
const MAX_MESSAGES_PER_SEND = 2000;
const MAX_BYTES_PER_SEND = 800_000;

/**
 * Publishes with an idempotent producer (acks=all, one request in flight, so retries never
 * reorder or duplicate). Connects on first use and stays connected for warm invocations.
 */
export class KafkaPublisher implements Publisher {
  #producer: Producer;
  #connected: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    private readonly brokers: string[],
  ) {
    this.#producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  async publish(topic: string, messages: OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.#connect();
    for (const chunk of chunkMessages(messages)) {
      await this.#producer.send({ topic, acks: -1, messages: chunk.map(toKafkaMessage) });
    }
  }

  async disconnect(): Promise<void> {
    if (this.#connected === undefined) return;
    this.#connected = undefined;
    await this.#producer.disconnect();
  }

  #connect(): Promise<void> {
    this.#connected ??= this.#producer.connect().catch((error: unknown) => {
      this.#connected = undefined;
      throw new DependencyUnavailableError(
        'Kafka',
        this.brokers.join(','),
        (error as Error).message,
        { cause: error },
      );
    });
    return this.#connected;
  }
}

function toKafkaMessage(message: OutboundMessage): Message {
  return {
    key: message.key,
    value: message.value,
    ...(message.headers && { headers: message.headers }),
  };
}

function* chunkMessages(messages: OutboundMessage[]): Generator<OutboundMessage[]> {
  let chunk: OutboundMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = message.value.length + (message.key?.length ?? 0) + 64;
    if (
      chunk.length > 0 &&
      (chunk.length >= MAX_MESSAGES_PER_SEND || bytes + size > MAX_BYTES_PER_SEND)
    ) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(message);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}
