import { spawn } from 'node:child_process';
import { connectRedis } from '../shared/adapters/redis.ts';
import { startBroker } from './kafka-broker.ts';

export type LocalKafka = { brokers: string; started: boolean; stop(): Promise<void> };

/** Uses the broker KAFKA_BROKERS names, or starts one from the Maven-fetched jars. */
export async function provideKafka(
  configured: string[] | undefined,
  say: (line: string) => void,
): Promise<LocalKafka> {
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
    throw new Error(
      `${(error as Error).message}. Start one (redis-server --daemonize yes) or point REDIS_URL at one.`,
    );
  }
}

/**
 * For the tests: when nothing answers at a loopback REDIS_URL and redis-server is installed,
 * starts one (no persistence) and waits for it. Throws with the address otherwise.
 */
export async function ensureRedis(url: string, say: (line: string) => void): Promise<void> {
  try {
    await checkRedis(url);
    return;
  } catch (error) {
    const { hostname, port } = new URL(url);
    if (!['127.0.0.1', 'localhost'].includes(hostname)) throw error;
    say(`No Redis at ${url}; starting redis-server on port ${port || 6379}…`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        'redis-server',
        [
          '--daemonize',
          'yes',
          '--bind',
          '127.0.0.1',
          '--port',
          port || '6379',
          '--save',
          '',
          '--appendonly',
          'no',
        ],
        { stdio: 'ignore' },
      );
      child.once('error', () => reject(error));
      child.once('exit', (code) => (code === 0 ? resolve() : reject(error)));
    });
    for (let tries = 0; tries < 50; tries++) {
      try {
        await checkRedis(url);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw error;
  }
}
