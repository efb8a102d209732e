import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Kafka } from 'kafkajs';
import {
  type LocalDeployment,
  type LocalDeploymentOptions,
  startLocalDeployment,
} from '../../local/deployment.ts';
import { startBroker } from '../../local/kafka-broker.ts';
import { deleteRunState } from '../../local/run-state.ts';
import { table } from '../../local/terminal.ts';
import { mapWithConcurrency } from '../../shared/concurrency.ts';
import { readTopic } from '../support/kafka.ts';
import { checkInvariant, type FaultRow } from './invariant.ts';
import { countingLostMarks } from './marks.ts';
import { faultsDir, OwnRedis } from './network.ts';
import { type DeliveryMode, type FaultContext, SCENARIOS, type Scenario } from './scenarios.ts';

/** Events per batch request in batch mode: small, so one merge batch makes several requests. */
const BATCH_EVENTS = 5;
const EVENT_ID_FIELD = 'eventId';
const DEFAULT_PARALLEL = 3;

const USAGE = `npm run test:faults -- [--mode single|batch|both] [--parallel N] [--only <text>] [--sabotage dedupe] [--mapping provisioned|on-demand]

Drives the pipeline (a real Kafka broker and an in-memory redis-server started here, mock APIs)
through each fault, in each delivery mode, then checks: every payload the sources imply was received by
Analytics exactly once or is on the dead_letter topic with its reason, and none is dead-lettered
when the faults fit the retry budget the row states; every receipt carries the payload's identity
(single mode: its hash as Idempotency-Key; batch mode: its hash as the event id, the request's
key derived from its events' ids); a payload reached the sink again only after an ambiguous retry
or a completed mark lost after the 2xx; none was received twice at a sink that honours the key
(and at one that ignores it, exactly ambiguous retries + lost marks); no valid record was lost;
every invalid input is in quarantine with its reason. Exits 1 when any row breaks it.

  --mode <mode>        single (one payload per POST), batch (ANALYTICS_DELIVERY=batch, requests
                       of up to ${BATCH_EVENTS} events) or both (default): each fault is a row per mode
  --parallel <n>       rows run side by side (default ${DEFAULT_PARALLEL}); rows that restart the broker run alone
  --only <text>        run the scenarios whose name contains the text (repeat it for several)
  --mapping <m>        provisioned (default) or on-demand: the merge's mappings without provisioned
                       pollers (docs/design.md, "Mappings without provisioned pollers")
  --sabotage dedupe    forget every delivered-payload record after each cycle (a broken dedupe);
                       the suite must then fail`;

const SETTINGS = {
  LOG_LEVEL: 'SILENT',
  METRICS: 'off',
  HTTP_MAX_ATTEMPTS: '5',
  HTTP_BASE_DELAY_MS: '20',
  HTTP_MAX_DELAY_MS: '1500',
  HTTP_TIMEOUT_MS: '1000',
  // Redis unreachable: a command fails after about 0.3 s, not 6 s (2 s reconnect backoff); the
  // writes after a POST ride out 5 s of outage, more than any row that must absorb one injects.
  REDIS_RETRY_MAX_DELAY_MS: '100',
  REDIS_SETTLE_MS: '5000',
};

const MODE_SETTINGS: Record<DeliveryMode, Record<string, string>> = {
  single: { ANALYTICS_DELIVERY: 'single' },
  batch: {
    ANALYTICS_DELIVERY: 'batch',
    ANALYTICS_BATCH_MAX_EVENTS: String(BATCH_EVENTS),
    ANALYTICS_EVENT_ID_FIELD: EVENT_ID_FIELD,
  },
};

type Job = { scenario: Scenario; mode: DeliveryMode; name: string };

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
      mode: { type: 'string', default: 'both' },
      parallel: { type: 'string', default: String(DEFAULT_PARALLEL) },
      only: { type: 'string', multiple: true },
      sabotage: { type: 'string' },
      mapping: { type: 'string', default: 'provisioned' },
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
  const mapping = values.mapping;
  if (mapping !== 'provisioned' && mapping !== 'on-demand') {
    console.error(`--mapping takes provisioned or on-demand, got "${mapping}"`);
    return 2;
  }
  const modes: DeliveryMode[] | undefined =
    values.mode === 'both'
      ? ['single', 'batch']
      : values.mode === 'single' || values.mode === 'batch'
        ? [values.mode]
        : undefined;
  if (!modes) {
    console.error(`--mode takes single, batch or both, got "${values.mode}"`);
    return 2;
  }
  const parallel = Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 16) {
    console.error(`--parallel takes a whole number from 1 to 16, got "${values.parallel}"`);
    return 2;
  }
  const only = values.only ?? [];
  const scenarios = SCENARIOS.filter(
    (s) => only.length === 0 || only.some((text) => s.name.includes(text)),
  );
  if (scenarios.length === 0) {
    console.error(`no scenario name contains ${only.map((text) => `"${text}"`).join(' or ')}`);
    return 2;
  }
  const jobs: Job[] = scenarios.flatMap((scenario) =>
    modes.map((mode) => ({
      scenario,
      mode,
      name: mode === 'batch' ? `${scenario.name} [batch]` : scenario.name,
    })),
  );
  const say = (line: string) => process.stderr.write(`${line}\n`);
  // The suite restarts the broker, so it always runs its own; and a Redis of its own (in memory),
  // so that finding a row's keys scans only the suite's and nothing stays in the user's Redis.
  const redis = await new OwnRedis(faultsDir(`redis-suite-${process.pid}`), {
    persistent: false,
  }).start();
  process.once('exit', () => void redis.kill());
  const config = { REDIS_URL: redis.url };
  const broker = await startBroker({ say }).catch(async (error: unknown) => {
    await redis.stop();
    throw error;
  });
  const keys = new WeakMap<LocalDeployment, { redisUrl: string; prefix: string }>();

  const deleteKeys = async (pipeline: LocalDeployment, pattern: string) => {
    const where = keys.get(pipeline);
    return where ? deleteRunState(where.redisUrl, where.prefix, pattern) : 0;
  };

  /** One fault in one mode: the scenario, then the invariant over what it left. */
  const runJob = async (job: Job): Promise<{ row: FaultRow; notes: string[] }> => {
    const { scenario, mode } = job;
    const notes: string[] = [];
    const fetchFailures: string[] = [];
    let kafkaErrors = 0;
    let lostMarks = 0;
    const ctx: FaultContext = {
      broker,
      mode,
      mapping,
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
          mapping,
          ...options,
          // Outside any cache wrapper of the scenario's: counts every completed mark that
          // failed to reach Redis, whoever failed it.
          interceptMergeCache: (cache) =>
            countingLostMarks(options.interceptMergeCache?.(cache) ?? cache, (marks) => {
              lostMarks += marks;
            }),
          settings: { ...SETTINGS, ...MODE_SETTINGS[mode], ...options.settings },
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
      row = checkInvariant(job.name, {
        mode,
        eventIdField: EVENT_ID_FIELD,
        customers,
        products,
        receipts: receipts.map(({ body, key, request }) => ({
          body,
          key,
          ...(request && { request }),
        })),
        honoursKey: pipeline.analyticsHonoursKey,
        repeatedKeys: stats.repeatedKeys,
        ambiguousRetries: pipeline.totals.merge.ambiguousRetries,
        lostMarks,
        repeatedPayloads: stats.repeatedPayloads,
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
        fault: job.name,
        mode,
        budget: scenario.budget,
        recordsIn: 0,
        deliveredOnce: 0,
        deadLettered: 0,
        quarantined: 0,
        duplicates: 0,
        distinctKeys: 0,
        repeatedKeys: 0,
        ambiguousRetries: 0,
        lostMarks,
        lost: 0,
        problems: [`scenario failed: ${(error as Error).message}`],
      };
    }
    if (kafkaErrors > 0) notes.push(`${kafkaErrors} Kafka error(s) met by the consumers`);
    if (fetchFailures.length > 0)
      notes.push(`${fetchFailures.length} fetch run(s) failed and the next run recovered`);
    // Stopping a pipeline is mostly waiting (a consumer leaves its group after its last fetch,
    // up to 5 s): it goes on while the next row runs, and is awaited before the broker stops.
    if (result) {
      const { pipeline, cleanup } = result;
      cleanups.push(
        (async () => {
          await pipeline.stop();
          // The run's keys go; a failure to remove them is reported, not hidden.
          await pipeline.deleteState().catch((error: unknown) => {
            say(`${job.name}: its Redis keys were not removed: ${(error as Error).message}`);
            return 0;
          });
          await cleanup?.();
        })().catch((error: unknown) => {
          say(`${job.name}: stopping its pipeline failed: ${(error as Error).message}`);
        }),
      );
    }
    return { row, notes };
  };
  const cleanups: Promise<void>[] = [];

  // Rows that restart the broker run alone, first; the others share it, a few at a time, the
  // long ones started first. Each row has its own topics, Redis keys, mocks and proxies.
  const exclusive = jobs.filter((job) => job.scenario.exclusive);
  const shared = [
    ...jobs.filter((job) => !job.scenario.exclusive && job.scenario.long),
    ...jobs.filter((job) => !job.scenario.exclusive && !job.scenario.long),
  ];
  const results = new Map<Job, { row: FaultRow; seconds: number }>();
  let done = 0;
  const started = Date.now();
  const run = async (job: Job) => {
    const t0 = Date.now();
    const { row, notes } = await runJob(job);
    const seconds = (Date.now() - t0) / 1000;
    results.set(job, { row, seconds });
    const verdict = row.problems.length === 0 ? 'ok' : `BROKEN: ${row.problems.join('; ')}`;
    say(
      `[${++done}/${jobs.length}] ${job.name}: ${verdict} (${seconds.toFixed(1)} s)${notes.length ? ` — ${notes.join('; ')}` : ''}`,
    );
  };
  say(
    `${jobs.length} row(s): ${exclusive.length} alone, then ${shared.length} with ${parallel} at a time`,
  );
  for (const job of exclusive) {
    await run(job);
    await Promise.all(cleanups);
  }
  await mapWithConcurrency(shared, parallel, run);
  await Promise.all(cleanups);
  await broker.stop();
  await redis.stop();
  const elapsed = (Date.now() - started) / 1000;

  const rows = jobs.flatMap((job) => {
    const result = results.get(job);
    return result ? [result] : [];
  });
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
        'marks lost',
        'duplicates',
        'lost',
        'invariant',
        's',
      ],
      rows.map(({ row, seconds }) => [
        row.fault,
        row.budget,
        row.recordsIn,
        row.deliveredOnce,
        row.deadLettered,
        row.quarantined,
        row.distinctKeys,
        row.repeatedKeys,
        row.ambiguousRetries,
        row.lostMarks,
        row.duplicates,
        row.lost,
        row.problems.length === 0 ? 'holds' : 'BROKEN',
        seconds.toFixed(1),
      ]),
    ),
  );
  const broken = rows.filter(({ row }) => row.problems.length > 0);
  const rowSeconds = rows.reduce((sum, { seconds }) => sum + seconds, 0);
  console.log(
    `\n${rows.length} fault row(s) (${modes.join(' and ')} delivery) in ${elapsed.toFixed(0)} s total (${rowSeconds.toFixed(0)} s of row time, up to ${parallel} at a time): ${
      broken.length === 0
        ? 'the invariant held in every one.'
        : `the invariant broke in ${broken.length}:`
    }`,
  );
  for (const { row } of broken) console.log(`  ${row.fault}: ${row.problems.join('; ')}`);
  return broken.length === 0 ? 0 : 1;
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    console.error(`fault suite failed to run: ${(error as Error).message}`);
    process.exit(1);
  });
