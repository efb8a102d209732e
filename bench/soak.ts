import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startLocalDeployment } from '../local/deployment.ts';
import { ensureRedis, provideKafka } from '../local/environment.ts';
import { summarize, verifyDelivery } from '../local/report.ts';
import { measureRunState, redisUsedMemory } from '../local/run-state.ts';
import { table } from '../local/terminal.ts';
import { loadLocalConfig } from '../shared/config.ts';

const USAGE = `npm run soak -- [options]

Runs the whole local pipeline at size (Kafka started here unless KAFKA_BROKERS is set, the Redis
at REDIS_URL, the mock APIs in their worker thread), with no faults injected, then checks that
every id present in both sources was delivered exactly once, prints the run's summary and
figures: throughput, ambiguous retries, peak memory, and Redis memory per join id and per
delivered payload. Exits 1 when the delivery check fails.

  --records N      records each source holds (default 100000)
  --page-size N    records per source page (default 1000)
  --batch-size N   records per merge invocation (default 10000)
  --cycles N       fetch cycles (default 1; later cycles bring only unchanged records)
  --keep-state     keep the run's Redis keys (by default they are deleted at the end)`;

function whole(flag: string, raw: string | undefined, fallback: number): number {
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${flag} must be a whole number above 0, got "${raw}"`);
  return value;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string' },
      'page-size': { type: 'string' },
      'batch-size': { type: 'string' },
      cycles: { type: 'string' },
      'keep-state': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const records = whole('records', values.records, 100_000);
  const pageSize = whole('page-size', values['page-size'], 1_000);
  const batchSize = whole('batch-size', values['batch-size'], 10_000);
  const cycles = whole('cycles', values.cycles, 1);
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const config = loadLocalConfig();
  await ensureRedis(config.REDIS_URL, say);
  const kafka = await provideKafka(config.KAFKA_BROKERS, say);
  const prefix = `soak-${randomUUID().slice(0, 8)}.`;
  const memoryBefore = await redisUsedMemory(config.REDIS_URL);
  const pipeline = await startLocalDeployment({
    brokers: kafka.brokers,
    redisUrl: config.REDIS_URL,
    topicPrefix: prefix,
    redisKeyPrefix: prefix,
    records,
    pageSize,
    batchSize,
    // Warnings (retries, ambiguous ones with their hash) still print; per-record lines do not.
    settings: { LOG_LEVEL: 'WARN', METRICS: 'off' },
  });
  try {
    const started = performance.now();
    for (let cycle = 1; cycle <= cycles; cycle++) {
      say(`cycle ${cycle}/${cycles}: fetching ${records} + ${records} records…`);
      const results = await pipeline.runCycle();
      for (const result of results)
        if (result.status === 'rejected')
          say(`a fetch failed: ${(result.reason as Error).message}`);
      await pipeline.drain(900_000);
    }
    const seconds = (performance.now() - started) / 1000;
    const check = await verifyDelivery(pipeline);
    const state = await measureRunState(config.REDIS_URL, prefix);
    const memoryAfter = await redisUsedMemory(config.REDIS_URL);
    console.log(await summarize(pipeline, cycles));
    const merged = pipeline.totals.merge.records;
    const newKeys = state.joinKeys + state.deliveredKeys + state.otherKeys;
    const grown = memoryAfter - memoryBefore;
    console.log(
      `\n${table(
        ['soak figure', 'value'],
        [
          ['records merged', merged],
          ['payloads delivered', check.processed],
          ['seconds (fetch to last commit)', seconds.toFixed(1)],
          ['records/s end to end', Math.round(merged / seconds)],
          ['ambiguous retries', check.ambiguousRetries],
          [
            'peak RSS of the process, mock thread included (MB)',
            Math.round(process.resourceUsage().maxRSS / 1024),
          ],
          [
            'Redis keys written (join ids + delivered payloads)',
            `${newKeys} (${state.joinKeys} + ${state.deliveredKeys})`,
          ],
          ['Redis used_memory growth (MB)', (grown / 2 ** 20).toFixed(1)],
          ['Redis bytes per new key (growth / keys)', newKeys ? Math.round(grown / newKeys) : '-'],
          ['MEMORY USAGE per join id (bytes, sampled)', state.bytesPerJoinKey],
          ['MEMORY USAGE per delivered payload (bytes, sampled)', state.bytesPerDeliveredKey],
        ],
      )}`,
    );
    if (check.ambiguousRetries > 0)
      say(
        `${check.ambiguousRetries} ambiguous retries with no fault injected: the machine was too busy to read answers within HTTP_TIMEOUT_MS.`,
      );
    return check.ok ? 0 : 1;
  } finally {
    await pipeline.stop();
    if (values['keep-state']) say(`Redis keys kept under ${prefix} (--keep-state).`);
    else say(`Removed the run's ${await pipeline.deleteState()} Redis key(s).`);
    await kafka.stop();
  }
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error(`soak failed: ${(error as Error).stack ?? error}`);
    process.exit(1);
  });
