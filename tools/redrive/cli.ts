import { buildMergeRuntime } from '../../functions/merge/runtime.ts';
import { createRedriveHandler } from '../../functions/redrive/handler.ts';
import { createKafka, kafkaConnectionOf } from '../../shared/adapters/kafka.ts';
import { loadMergeConfig } from '../../shared/config.ts';
import { runDrainCommand } from '../commons/drain-command.ts';
import { summaryLine } from './summary.ts';

const USAGE = `npm run redrive -- [--chunk <records>] [--timeout <seconds>]

Re-drives the records the event source mapping gave up on (the failed_<topic> topics) through the
merge function's own join and idempotent delivery: payloads already delivered are skipped, the
rest delivered once. Offsets are committed only after a chunk is delivered, so a re-drive that
stops midway is simply run again. Settings are the merge function's (KAFKA_BROKERS, REDIS_URL,
REDIS_KEY_PREFIX, ANALYTICS_URL, TOPIC_PREFIX, PIPELINE_SOURCES, …; see README); KAFKA_BROKERS,
REDIS_URL and ANALYTICS_URL have no default. \`npm run local\` prints this command with its run's
settings when it starts. On AWS, invoke the redrive function instead (docs/deploy.md).`;

runDrainCommand({
  name: 'redrive',
  usage: USAGE,
  defaultTimeoutSeconds: 900,
  options: { chunk: { default: '500' } },
  check: ({ chunk }) =>
    Number.isInteger(Number(chunk)) && Number(chunk) >= 1
      ? undefined
      : `--chunk must be a whole number of records, got "${chunk}"`,
  async run({ chunk }, timeoutMs, output) {
    const config = loadMergeConfig();
    const runtime = buildMergeRuntime(config);
    const kafka = createKafka(kafkaConnectionOf(config, `redrive`));
    const redrive = createRedriveHandler(config, runtime, kafka, (done, left) =>
      output.err(`  ${summaryLine(done)}  left ${left}`),
    );
    try {
      output.err(
        `Re-driving the failed_<topic> topics${config.TOPIC_PREFIX ? ` (prefix ${config.TOPIC_PREFIX})` : ''}…`,
      );
      const summary = await redrive(
        { chunkSize: Number(chunk) },
        { getRemainingTimeInMillis: () => timeoutMs },
      );
      return { line: summaryLine(summary), remaining: summary.remaining };
    } finally {
      await runtime.close();
    }
  },
});
