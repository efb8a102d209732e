import { parseArgs } from 'node:util';
import { replayDeadLetterTopic } from '../../functions/replay/dead-letter-topic.ts';
import { buildReplayRuntime } from '../../functions/replay/runtime.ts';
import { createKafka, kafkaConnectionOf } from '../../shared/adapters/kafka.ts';
import { loadTopicReplayConfig } from '../../shared/config.ts';
import { ConfigError } from '../../shared/errors.ts';
import { TOPICS } from '../../shared/sources/registry.ts';
import { UNPARK_USAGE, unparkCommand } from './unpark-cli.ts';

const USAGE = `npm run replay -- [--group <consumer group>] [--timeout <seconds>]

Re-drives the dead_letter topic into Analytics through the merge function's idempotent delivery:
payloads Analytics already has are skipped, ones it refuses again stay for the next replay.
Settings are the replay function's (REDIS_URL, REDIS_KEY_PREFIX, ANALYTICS_URL, ANALYTICS_*,
HTTP_*), plus KAFKA_BROKERS and TOPIC_PREFIX for the topic (see README). On AWS, enable the
replay function's SQS trigger instead (docs/deploy.md). The local runner does the same with: npm run local -- --replay

${UNPARK_USAGE}`;

async function main(): Promise<number> {
  // Parked letters (AWS only) have their own command: tools/replay/unpark-cli.ts.
  if (process.argv.includes('--unpark')) return unparkCommand(process.argv.slice(2));
  const { values } = parseArgs({
    options: {
      group: { type: 'string', default: 'replay' },
      timeout: { type: 'string', default: '300' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const timeoutMs = Number(values.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    console.error(`--timeout must be a number of seconds, got "${values.timeout}"`);
    return 2;
  }
  const config = loadTopicReplayConfig();
  const runtime = buildReplayRuntime(config);
  const kafka = createKafka(kafkaConnectionOf(config, `replay`));
  try {
    const { delivery, log } = await runtime.ready();
    delivery.registerInvocation({ getRemainingTimeInMillis: () => timeoutMs });
    const topic = config.TOPIC_PREFIX + TOPICS.deadLetter;
    console.error(`Replaying ${topic} (group ${values.group})…`);
    const result = await replayDeadLetterTopic({
      kafka,
      topic,
      groupId: config.TOPIC_PREFIX + values.group,
      delivery,
      log,
      timeoutMs,
    });
    console.log(
      `letters ${result.letters}  delivered ${result.posted}  already delivered ${result.duplicates}  still refused ${result.failed}  left on the topic ${result.remaining}`,
    );
    return result.remaining === 0 ? 0 : 1;
  } finally {
    await runtime.close();
  }
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error(
      error instanceof ConfigError ? error.message : `replay failed: ${(error as Error).message}`,
    );
    process.exit(1);
  });
