import { parseArgs } from 'node:util';
import { buildMergeRuntime } from '../../functions/merge/runtime.ts';
import { createRedriveHandler } from '../../functions/redrive/handler.ts';
import { createKafka, kafkaConnectionOf } from '../../shared/adapters/kafka.ts';
import { loadMergeConfig } from '../../shared/config.ts';
import { ConfigError } from '../../shared/errors.ts';
import { summaryLine } from './summary.ts';

const USAGE = `npm run redrive -- [--chunk <records>] [--timeout <seconds>]

Re-drives the records the event source mapping gave up on (the failed_<topic> topics) through the
merge function's own join and idempotent delivery: payloads already delivered are skipped, the
rest delivered once. Offsets are committed only after a chunk is delivered, so a re-drive that
stops midway is simply run again. Settings are the merge function's (KAFKA_BROKERS, REDIS_URL,
REDIS_KEY_PREFIX, ANALYTICS_URL, TOPIC_PREFIX, …; see README). On AWS, invoke the redrive
function instead (docs/deploy.md).`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      chunk: { type: 'string', default: '500' },
      timeout: { type: 'string', default: '900' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const timeoutMs = Number(values.timeout) * 1000;
  const chunkSize = Number(values.chunk);
  if (
    !Number.isFinite(timeoutMs) ||
    timeoutMs <= 0 ||
    !Number.isInteger(chunkSize) ||
    chunkSize < 1
  ) {
    console.error(
      `--timeout takes seconds and --chunk a record count, got "${values.timeout}", "${values.chunk}"`,
    );
    return 2;
  }
  const config = loadMergeConfig();
  const runtime = buildMergeRuntime(config);
  const kafka = createKafka(kafkaConnectionOf(config, `redrive`));
  const redrive = createRedriveHandler(config, runtime, kafka, (done, left) =>
    process.stderr.write(`  ${summaryLine(done)}  left ${left}\n`),
  );
  try {
    console.error(
      `Re-driving the failed_<topic> topics${config.TOPIC_PREFIX ? ` (prefix ${config.TOPIC_PREFIX})` : ''}…`,
    );
    const summary = await redrive({ chunkSize }, { getRemainingTimeInMillis: () => timeoutMs });
    console.log(summaryLine(summary));
    return summary.remaining === 0 ? 0 : 1;
  } finally {
    await runtime.close();
  }
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error(
      error instanceof ConfigError ? error.message : `redrive failed: ${(error as Error).message}`,
    );
    process.exit(1);
  });
