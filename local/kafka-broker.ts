import { type ChildProcess, execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type DetachedChild, spawnDetached } from './detached-child.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const KAFKA_HOME = join(ROOT, '.local', 'kafka');
const LIB = join(KAFKA_HOME, 'lib');
const POM = join(ROOT, 'local', 'pom.xml');

export type RunningBroker = {
  /** host:port to give kafkajs. */
  brokers: string;
  logFile: string;
  stop(): Promise<void>;
  /** Stops the broker, waits `downMs`, and starts it again on the same port with the same data. */
  restart(downMs?: number): Promise<void>;
};

/** A free TCP port on 127.0.0.1, as the OS hands it out. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolvePort(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Makes sure the Kafka jars are in .local/kafka/lib, fetching them with Maven the first time
 * (and again when local/pom.xml changes). Throws with Maven's output when the fetch fails.
 */
async function ensureKafkaJars(say: (line: string) => void = () => {}): Promise<string> {
  const stamp = join(KAFKA_HOME, 'pom.stamp');
  const pom = readFileSync(POM, 'utf8');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === pom && readdirSync(LIB).length > 0)
    return LIB;
  say('Fetching the Kafka broker jars with Maven (first run only, about 30 MB)…');
  rmSync(LIB, { recursive: true, force: true });
  mkdirSync(LIB, { recursive: true });
  try {
    await run(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        POM,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${LIB}`,
        '-DincludeScope=runtime',
      ],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    );
  } catch (error) {
    const detail = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `Maven could not fetch the Kafka jars (is mvn on PATH and Maven Central reachable?):\n${detail.stdout ?? ''}${detail.stderr ?? detail.message}`,
    );
  }
  writeFileSync(stamp, pom);
  return LIB;
}

/**
 * Starts a single-node KRaft broker on 127.0.0.1 with a fresh data directory and waits until it
 * accepts connections. stop() shuts it down and removes the data directory. The broker runs in a
 * process group of its own (Ctrl-C does not reach it) and never outlives this process.
 */
export async function startBroker(
  options: { port?: number; say?: (line: string) => void } = {},
): Promise<RunningBroker> {
  const say = options.say ?? (() => {});
  const lib = await ensureKafkaJars(say);
  const port = options.port ?? (await freePort());
  const controllerPort = await freePort();
  const dir = join(KAFKA_HOME, `run-${port}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'data'), { recursive: true });
  const properties = join(dir, 'server.properties');
  writeFileSync(properties, brokerProperties(port, controllerPort, join(dir, 'data')));
  const log4j = join(dir, 'log4j.properties');
  writeFileSync(log4j, LOG4J);
  const classpath = join(lib, '*');
  const java = [
    '-Xms128m',
    '-Xmx512m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    `-Dlog4j.configuration=file:${log4j}`,
    '-cp',
    classpath,
  ];
  await run('java', [
    ...java,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    randomUUID().replaceAll('-', '').slice(0, 22),
    '-c',
    properties,
  ]).catch((error: Error & { stderr?: string }) => {
    throw new Error(`formatting the Kafka log directory failed: ${error.stderr ?? error.message}`);
  });
  const logFile = join(dir, 'broker.log');
  const brokers = `127.0.0.1:${port}`;
  const output: string[] = [];
  let broker: DetachedChild;
  const launch = async () => {
    // A group of its own: the terminal's Ctrl-C stops the runner, which reads the quarantine
    // topic for its summary and then stops the broker itself (stop() below).
    broker = spawnDetached('java', [...java, 'kafka.Kafka', properties]);
    const keep = (chunk: Buffer) => {
      output.push(chunk.toString());
      writeFileSync(logFile, output.join(''));
    };
    broker.process.stdout?.on('data', keep);
    broker.process.stderr?.on('data', keep);
    try {
      await waitForPort(port, broker.process, 60_000);
    } catch (error) {
      await broker.stop(0);
      throw new Error(
        `${(error as Error).message}\n--- broker output ---\n${output.join('').slice(-4000)}`,
      );
    }
  };

  say(`Starting Kafka (KRaft, one node) on ${brokers}…`);
  await launch();
  return {
    brokers,
    logFile,
    stop: async () => {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async (downMs = 0) => {
      await broker.stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await launch();
    },
  };
}

function brokerProperties(port: number, controllerPort: number, dataDir: string): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'auto.create.topics.enable=false',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'message.max.bytes=1048588',
    '',
  ].join('\n');
}

const LOG4J = [
  'log4j.rootLogger=WARN, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.kafka.server.KafkaRaftServer=INFO',
  '',
].join('\n');

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the Kafka broker exited with code ${child.exitCode}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the Kafka broker did not open port ${port} within ${timeoutMs / 1000} s`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}
