import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Kafka } from 'kafkajs';
import {
  type LocalDeployment,
  type LocalDeploymentOptions,
  startLocalDeployment,
} from '../../local/deployment.ts';
import { ensureRedis } from '../../local/environment.ts';
import { startBroker } from '../../local/kafka-broker.ts';
import { deleteRunState } from '../../local/run-state.ts';
import { table } from '../../local/terminal.ts';
import { loadLocalConfig } from '../../shared/config.ts';
import { readTopic } from '../support/kafka.ts';
import { checkInvariant, type FaultRow } from './invariant.ts';
import { type FaultContext, SCENARIOS } from './scenarios.ts';

const USAGE = `npm run test:faults -- [--only <text>] [--sabotage dedupe]

Drives the pipeline (real Kafka broker started here, the Redis at REDIS_URL, mock APIs) through
each fault, then checks: every payload the sources imply was received by Analytics exactly once
or is on the dead_letter topic with its reason, and none is dead-lettered when the faults fit the
retry budget the row states; every receipt carries the payload's identity as Idempotency-Key;
none was received twice at a sink that honours the key (and at one that ignores it, exactly as
often as the merge counted ambiguous retries); no valid source record was lost; every invalid
input is in quarantine with its reason. Exits 1 when any row breaks it.

  --only <text>        run the scenarios whose name contains the text
  --sabotage dedupe    forget every delivered-payload record after each cycle (a broken dedupe);
                       the suite must then fail`;

const SETTINGS = {
  LOG_LEVEL: 'SILENT',
  METRICS: 'off',
  HTTP_MAX_ATTEMPTS: '5',
  HTTP_BASE_DELAY_MS: '20',
  HTTP_MAX_DELAY_MS: '1500',
  HTTP_TIMEOUT_MS: '1000',
};

async function readAll(kafka: Kafka, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const count = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    return count === 0 ? [] : await readTopic(kafka, topic, count, 30_000);
  } finally {
    await admin.disconnect();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      sabotage: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.sabotage !== undefined && values.sabotage !== 'dedupe') {
    console.error(`--sabotage takes "dedupe", got "${values.sabotage}"`);
    return 2;
  }
  const scenarios = SCENARIOS.filter((s) => !values.only || s.name.includes(values.only));
  if (scenarios.length === 0) {
    console.error(`no scenario name contains "${values.only}"`);
    return 2;
  }
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const config = loadLocalConfig();
  await ensureRedis(config.REDIS_URL, say);
  // The suite restarts the broker, so it always runs its own.
  const broker = await startBroker({ say });
  const keys = new WeakMap<LocalDeployment, { redisUrl: string; prefix: string }>();

  const deleteKeys = async (pipeline: LocalDeployment, pattern: string) => {
    const where = keys.get(pipeline);
    return where ? deleteRunState(where.redisUrl, where.prefix, pattern) : 0;
  };

  const rows: FaultRow[] = [];
  const started = Date.now();
  for (const [index, scenario] of scenarios.entries()) {
    const notes: string[] = [];
    const fetchFailures: string[] = [];
    let kafkaErrors = 0;
    const ctx: FaultContext = {
      broker,
      redisUrl: config.REDIS_URL,
      async start(options: Partial<LocalDeploymentOptions> = {}) {
        const prefix = `faults-${randomUUID().slice(0, 8)}.`;
        const redisUrl = options.redisUrl ?? config.REDIS_URL;
        const pipeline = await startLocalDeployment({
          brokers: broker.brokers,
          redisUrl,
          topicPrefix: prefix,
          redisKeyPrefix: prefix,
          records: 30,
          pageSize: 10,
          batchSize: 20,
          onKafkaError: () => kafkaErrors++,
          ...options,
          settings: { ...SETTINGS, ...options.settings },
        });
        keys.set(pipeline, { redisUrl, prefix });
        return pipeline;
      },
      async cycle(pipeline) {
        await ctx.fetchInBackground(pipeline);
        await ctx.drain(pipeline);
      },
      async fetchInBackground(pipeline) {
        const results = await pipeline.runCycle();
        for (const result of results) {
          if (result.status === 'rejected') fetchFailures.push((result.reason as Error).message);
        }
        return results;
      },
      async drain(pipeline) {
        await pipeline.drain(120_000);
        if (values.sabotage === 'dedupe') await deleteKeys(pipeline, 'delivered*');
      },
      note: (text) => notes.push(text),
      deleteKeys,
    };
    const t0 = Date.now();
    say(`[${index + 1}/${scenarios.length}] ${scenario.name}…`);
    let row: FaultRow;
    let result: Awaited<ReturnType<typeof scenario.run>> | undefined;
    try {
      result = await scenario.run(ctx);
      const { pipeline } = result;
      const [deadLetters, quarantine, customerTopic, productTopic] = await Promise.all(
        [
          pipeline.topics.deadLetter,
          pipeline.topics.quarantine,
          pipeline.topics.customer,
          pipeline.topics.inventory,
        ].map((topic) => readAll(pipeline.kafka, topic)),
      );
      const [receipts, stats, customers, products] = await Promise.all([
        pipeline.analytics.receipts(),
        pipeline.analytics.stats(),
        pipeline.crm.records(),
        pipeline.inventory.records(),
      ]);
      row = checkInvariant(scenario.name, {
        customers,
        products,
        receipts: receipts.map(({ body, key }) => ({ body, key })),
        honoursKey: pipeline.analyticsHonoursKey,
        repeatedKeys: stats.repeatedKeys,
        ambiguousRetries: pipeline.totals.merge.ambiguousRetries,
        deadLettersExpected: scenario.deadLettersExpected ?? false,
        budget: scenario.budget,
        deadLetters: (deadLetters ?? []).map((m) => m.value),
        quarantine: (quarantine ?? []).map((m) => m.value),
        customerTopicIds: (customerTopic ?? []).flatMap((m) => (m.key ? [m.key] : [])),
        productTopicIds: (productTopic ?? []).flatMap((m) => (m.key ? [m.key] : [])),
        maxRecordBytes: 100_000,
        expectedQuarantined: result.expectedQuarantined ?? 0,
        sourceTopicsChecked: result.sourceTopicsChecked ?? true,
      });
      row.problems.push(...(result.problems ?? []));
    } catch (error) {
      row = {
        fault: scenario.name,
        budget: scenario.budget,
        recordsIn: 0,
        deliveredOnce: 0,
        deadLettered: 0,
        quarantined: 0,
        duplicates: 0,
        distinctKeys: 0,
        repeatedKeys: 0,
        ambiguousRetries: 0,
        lost: 0,
        problems: [`scenario failed: ${(error as Error).message}`],
      };
    } finally {
      if (result) {
        await result.pipeline.stop();
        // The run's keys go; a failure to remove them is reported, not hidden.
        await result.pipeline
          .deleteState()
          .catch((error: unknown) =>
            notes.push(`its Redis keys were not removed: ${(error as Error).message}`),
          );
        await result.cleanup?.();
      }
    }
    if (kafkaErrors > 0) notes.push(`${kafkaErrors} Kafka error(s) met by the consumers`);
    if (fetchFailures.length > 0)
      notes.push(`${fetchFailures.length} fetch run(s) failed and the next run recovered`);
    rows.push(row);
    const verdict = row.problems.length === 0 ? 'ok' : `BROKEN: ${row.problems.join('; ')}`;
    say(
      `    ${verdict} (${((Date.now() - t0) / 1000).toFixed(1)} s)${notes.length ? ` — ${notes.join('; ')}` : ''}`,
    );
  }
  await broker.stop();

  console.log(
    table(
      [
        'fault',
        'retry budget assumed',
        'records in',
        'delivered once',
        'dead-lettered',
        'quarantined',
        'distinct keys',
        'repeated keys',
        'ambiguous retries',
        'duplicates',
        'lost',
        'invariant',
      ],
      rows.map((row) => [
        row.fault,
        row.budget,
        row.recordsIn,
        row.deliveredOnce,
        row.deadLettered,
        row.quarantined,
        row.distinctKeys,
        row.repeatedKeys,
        row.ambiguousRetries,
        row.duplicates,
        row.lost,
        row.problems.length === 0 ? 'holds' : 'BROKEN',
      ]),
    ),
  );
  const broken = rows.filter((row) => row.problems.length > 0);
  console.log(
    `\n${rows.length} fault(s) in ${((Date.now() - started) / 1000).toFixed(0)} s: ${
      broken.length === 0
        ? 'the invariant held in every one.'
        : `the invariant broke in ${broken.length}:`
    }`,
  );
  for (const row of broken) console.log(`  ${row.fault}: ${row.problems.join('; ')}`);
  return broken.length === 0 ? 0 : 1;
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error(`fault suite failed to run: ${(error as Error).message}`);
    process.exit(1);
  });
