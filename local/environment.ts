import { connectRedis } from '../shared/adapters/redis.ts';
import { startBroker } from './kafka-broker.ts';

export type LocalKafka = { brokers: string; started: boolean; stop(): Promise<void> };

/** Uses the broker KAFKA_BROKERS names, or starts one from the Maven-fetched jars. */
export async function provideKafka(configured: string[] | undefined, say: (line: string) => void): Promise<LocalKafka> {
  if (configured) {
    say(`Using the Kafka broker at ${configured.join(',')} (KAFKA_BROKERS).`);
    return { brokers: configured.join(','), started: false, stop: async () => {} };
  }
  const broker = await startBroker({ say });
  say(`Kafka is up on ${broker.brokers} (log: ${broker.logFile}).`);
  return { brokers: broker.brokers, started: true, stop: broker.stop };
}

/**
 * Checks that Redis answers at the URL, and says what to do when it does not.
 * Throws an error with the address and the fix.
 */
export async function checkRedis(url: string): Promise<void> {
  try {
    const client = await connectRedis({ url });
    await client.ping();
    client.disconnect();
  } catch (error) {
    throw new Error(`${(error as Error).message}. Start one (redis-server --daemonize yes) or point REDIS_URL at one.`);
  }
}
