import { replayDeadLetterTopic } from '../../functions/replay/dead-letter-topic.ts';
import { buildReplayRuntime } from '../../functions/replay/runtime.ts';
import { createKafka, kafkaConnectionOf } from '../../shared/adapters/kafka.ts';
import { loadTopicReplayConfig } from '../../shared/config.ts';
import { TOPICS } from '../../shared/sources/registry.ts';
import { runDrainCommand } from '../commons/drain-command.ts';
import { UNPARK_USAGE, unparkCommand } from './unpark-cli.ts';

const USAGE = `npm run replay -- [--group <consumer group>] [--timeout <seconds>]

Re-drives the dead_letter topic into Analytics through the merge function's idempotent delivery:
payloads Analytics already has are skipped, ones it refuses again stay for the next replay.
Settings are the replay function's (REDIS_URL, REDIS_KEY_PREFIX, ANALYTICS_URL, ANALYTICS_*,
HTTP_*), plus KAFKA_BROKERS and TOPIC_PREFIX for the topic (see README); KAFKA_BROKERS,
REDIS_URL and ANALYTICS_URL have no default. \`npm run local\` prints this command with its run's
settings when it starts. On AWS, enable the replay function's SQS trigger instead
(docs/deploy.md). The local runner does the same at its end with: npm run local -- --replay

${UNPARK_USAGE}`;

// Parked letters (AWS only) have their own command: tools/replay/unpark-cli.ts.
if (process.argv.includes('--unpark')) {
  process.exitCode = await unparkCommand(process.argv.slice(2));
} else {
  runDrainCommand({
    name: 'replay',
    usage: USAGE,
    defaultTimeoutSeconds: 300,
    options: { group: { default: 'replay' } },
    async run({ group }, timeoutMs, output) {
      const config = loadTopicReplayConfig();
      const runtime = buildReplayRuntime(config);
      const kafka = createKafka(kafkaConnectionOf(config, `replay`));
      try {
        const { delivery, log } = await runtime.ready();
        delivery.registerInvocation({ getRemainingTimeInMillis: () => timeoutMs });
        const topic = config.TOPIC_PREFIX + TOPICS.deadLetter;
        output.err(`Replaying ${topic} (group ${group})…`);
        const result = await replayDeadLetterTopic({
          kafka,
          topic,
          groupId: config.TOPIC_PREFIX + group,
          delivery,
          log,
          timeoutMs,
        });
        return {
          line: `letters ${result.letters}  delivered ${result.posted}  already delivered ${result.duplicates}  still refused ${result.failed}  left on the topic ${result.remaining}`,
          remaining: result.remaining,
        };
      } finally {
        await runtime.close();
      }
    },
  });
}
