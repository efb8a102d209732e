import { Redis } from 'ioredis';
import { DependencyUnavailableError } from '../errors.ts';

export type RedisConnection = {
  /** redis://host:port or rediss://host:port (TLS). A password in the URL is never logged. */
  url: string;
  /** AUTH password or token, when the server asks for one (ElastiCache with auth). */
  password?: string;
  username?: string;
  /** Cap of the reconnect backoff (200 ms more per attempt; default 2 s). */
  retryMaxDelayMs?: number;
};

/** The URL with any password replaced, for messages and logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * Opens an ioredis client with auto-pipelining (concurrent commands share round trips) and
 * connects it. Fails fast with DependencyUnavailableError naming the address when no server
 * answers; after that, commands fail within a couple of retries instead of queueing forever.
 */
export async function connectRedis(connection: RedisConnection): Promise<Redis> {
  const client = new Redis(connection.url, {
    lazyConnect: true,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 3000,
    // A server that accepts connections and drops them resets ioredis's retry count on every
    // connect, so without this a command could wait until the Lambda timeout.
    commandTimeout: 10_000,
    retryStrategy: (times) => Math.min(times * 200, connection.retryMaxDelayMs ?? 2000),
    ...(connection.password !== undefined && { password: connection.password }),
    ...(connection.username !== undefined && { username: connection.username }),
  });
  // Errors surface through the commands that fail; this keeps ioredis from printing them unasked.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new DependencyUnavailableError(
      'Redis',
      redactUrl(connection.url),
      (error as Error).message,
      { cause: error },
    );
  }
  return client;
}
