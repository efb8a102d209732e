import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadLocalConfig } from '../shared/config.ts';
import { createLogger, maskEmails } from '../shared/logger.ts';
import { BUILT_IN_SOURCES } from '../shared/sources/registry.ts';
import { type LocalDeployment, startLocalDeployment } from './deployment.ts';
import { checkRedis, provideKafka } from './environment.ts';
import { faultSeedLine, faultSeedOf } from './fault-seed.ts';
import { javaMapString } from './mocks/servers.ts';
import { operatorLines } from './operator-commands.ts';
import { orphanReport } from './orphans.ts';
import { summarize, verifyDelivery } from './report.ts';
import { AUTH_TYPES, localSources, PAGING_STYLES } from './sources.ts';
import { EXIT_CODES, onStopSignals } from './stop-signals.ts';
import { Terminal } from './terminal.ts';

const USAGE = `Usage: npm run local -- [options]

Runs the whole pipeline on this machine: a Kafka broker (started from Maven jars unless
KAFKA_BROKERS names one), the Redis at REDIS_URL, mock CRM/Inventory/Analytics APIs, the fetch
handlers on a timer and the merge handler behind an emulated MSK event source mapping.

  --cycles N          fetch cycles to run, then stop (default: run until Ctrl-C)
  --interval D        time between cycles: 500ms, 5s, 1m (default 5s)
  --records N         ids 1..N in each mock source (default 50); the CRM leaves out every tenth
                      id and the Inventory every seventh, so some ids wait for a side
  --page-size N       records per source page (default 100)
  --batch-size N      records per merge invocation (default 500)
  --retry-attempts N  retries of a failing merge batch before it goes to failed_<topic>, as
                      the stack's mergeRetryAttempts (default 10; re-drive: npm run redrive)
  --mapping M         provisioned (default) or on-demand: the merge's mappings without
                      provisioned pollers (no partial batch response, no retry limit, no
                      on-failure destination; the merge keeps its own retry budget)
  --latency MS        added latency of every mock answer (default 0)
  --error-rate R      share of mock answers that are 500s, 0..1 (default 0)
  --throttle-rate R   share of mock answers that are 429 with Retry-After, 0..1 (default 0)
  --fault-seed N      seed of those random faults (default: a new one each run, printed at
                      the start and the end); the same seed repeats the same faults
  --analytics-down-cycles N
                      Analytics answers 503 during the first N cycles: those payloads go to
                      the dead_letter topic after their retries (default 0)
  --replay            after the last cycle, replay the dead_letter topic into Analytics
  --crm-url URL       read customers from this list endpoint instead of the mock
  --inventory-url URL read products from this list endpoint instead of the mock
  --analytics-url URL deliver to this Analytics endpoint (e.g. http://host/analytics/data)
  --config FILE       a pipeline definition: {"sources": [...], "analyticsUrl": …, "secrets": …}
  --source-style S    mock sources paged by none, page, offset, cursor or link
  --source-auth A     mock sources asking for none, bearer, apiKeyHeader, apiKeyQuery,
                      basic or oauth2 auth
  --source-sync-token mock sources keep an API sync token (page or cursor paging): each run's
                      last page carries it, the next run sends it back and gets only what
                      changed since; it is saved only when a run ends
  --full              every fetch ignores the saved cursor (a full re-sync)
  --invocation-limit D
                      time one fetch invocation may take (500ms, 5s); a longer run pauses at a
                      page boundary and the next invocation continues it
  --analytics-batch N deliver in batch requests of up to N payloads (ANALYTICS_DELIVERY=batch),
                      each event with its id; the mock takes JSON-array batches
  --analytics-ignores-key
                      the Analytics mock ignores Idempotency-Key (by default it honours it: a
                      repeated key gets the first answer and is not processed again)
  --keep-state        keep this run's Redis keys (by default they are deleted at the end)
  --quiet             do not print each payload Analytics receives
  --verbose           also print the JSON log lines (they always go to .local/logs/)
  --help              this text`;

function number(
  flag: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`--${flag} must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function oneOf<T extends string>(
  flag: string,
  raw: string | undefined,
  allowed: T[],
): T | undefined {
  if (raw === undefined) return undefined;
  if (!allowed.includes(raw as T)) {
    throw new Error(`--${flag} must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function duration(raw: string | undefined, flag = 'interval'): number {
  if (raw === undefined) return 5_000;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (!match) throw new Error(`--${flag} must look like 500ms, 5s or 1m, got "${raw}"`);
  const unit = match[2] ?? 's';
  return Number(match[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000);
}

function parseFlags() {
  const { values } = parseArgs({
    options: {
      cycles: { type: 'string' },
      interval: { type: 'string' },
      records: { type: 'string' },
      'page-size': { type: 'string' },
      'batch-size': { type: 'string' },
      'retry-attempts': { type: 'string' },
      mapping: { type: 'string' },
      latency: { type: 'string' },
      'error-rate': { type: 'string' },
      'throttle-rate': { type: 'string' },
      'fault-seed': { type: 'string' },
      'analytics-down-cycles': { type: 'string' },
      replay: { type: 'boolean', default: false },
      'crm-url': { type: 'string' },
      'inventory-url': { type: 'string' },
      'analytics-url': { type: 'string' },
      config: { type: 'string' },
      'source-style': { type: 'string' },
      'source-auth': { type: 'string' },
      'source-sync-token': { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      'invocation-limit': { type: 'string' },
      'analytics-ignores-key': { type: 'boolean', default: false },
      'analytics-batch': { type: 'string' },
      'keep-state': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  return {
    help: values.help,
    cycles: number('cycles', values.cycles, 0, 0, 1_000_000),
    intervalMs: duration(values.interval),
    records: number('records', values.records, 50, 1, 1_000_000),
    pageSize: number('page-size', values['page-size'], 100, 1, 10_000),
    batchSize: number('batch-size', values['batch-size'], 500, 1, 10_000),
    retryAttempts: number('retry-attempts', values['retry-attempts'], 10, 0, 10_000),
    mapping: oneOf('mapping', values.mapping, ['provisioned', 'on-demand']) ?? 'provisioned',
    faults: {
      latencyMs: number('latency', values.latency, 0, 0, 60_000),
      errorRate: number('error-rate', values['error-rate'], 0, 0, 1),
      throttleRate: number('throttle-rate', values['throttle-rate'], 0, 0, 1),
    },
    faultSeed: faultSeedOf(values['fault-seed']),
    analyticsDownCycles: number(
      'analytics-down-cycles',
      values['analytics-down-cycles'],
      0,
      0,
      1_000_000,
    ),
    replay: values.replay,
    sources: {
      crmUrl: values['crm-url'],
      inventoryUrl: values['inventory-url'],
      analyticsUrl: values['analytics-url'],
      config: values.config,
      sourceStyle: oneOf('source-style', values['source-style'], PAGING_STYLES),
      sourceAuth: oneOf('source-auth', values['source-auth'], AUTH_TYPES),
      sourceSyncToken: values['source-sync-token'],
    },
    full: values.full,
    invocationLimitMs:
      values['invocation-limit'] === undefined
        ? undefined
        : duration(values['invocation-limit'], 'invocation-limit'),
    analyticsIgnoresKey: values['analytics-ignores-key'],
    analyticsBatch:
      values['analytics-batch'] === undefined
        ? undefined
        : number('analytics-batch', values['analytics-batch'], 500, 1, 100_000),
    keepState: values['keep-state'],
    quiet: values.quiet,
    verbose: values.verbose,
  };
}

async function main(): Promise<number> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    process.stderr.write(
      `Node ${process.versions.node}: the pipeline needs Node 22 or newer (Lambda runs nodejs22.x). ` +
        'Put your own Node 22+ on the PATH, or run `source .ci/node22.sh` in this shell: it fetches ' +
        'a pinned Node 22 from the npm registry into .local/.\n',
    );
    return 2;
  }
  const flags = parseFlags();
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadLocalConfig();
  const seedLine = faultSeedLine(flags.faults, flags.faultSeed);
  const terminal = new Terminal(flags.verbose);
  const say = (line: string) => terminal.say(line);
  // The sources (a --config file, its join and secrets, the URLs) are read and checked before
  // anything starts: a mistake in them is reported at once, not after the broker's start.
  const chosen = await localSources({ ...flags.sources, records: flags.records });
  const sourceMocks: { close(): Promise<void> }[] = chosen.mocks;
  await checkRedis(config.REDIS_URL);
  const kafka = await provideKafka(config.KAFKA_BROKERS, say);
  const runId = randomUUID().slice(0, 8);
  // Each run is self-contained: its own Redis keys, and its own topics on a broker it did not
  // start (a broker it started is empty anyway), so the delivery check covers this run alone.
  const redisKeyPrefix = `local:${runId}:`;
  const topicPrefix = kafka.started ? '' : `run-${runId}.`;
  const sources = chosen.options.sources ?? BUILT_IN_SOURCES;
  const sourceOfTopic = (topic: string) =>
    sources.find((source) => topicPrefix + source.topic === topic)?.name;
  let pipeline: LocalDeployment | undefined;
  let stopped: Promise<number> | undefined;
  // One stop, whoever asks first (the end of the run, Ctrl-C, SIGTERM): the others wait for it,
  // so the process exits only after the summary, the key removal and the broker's stop.
  const stop = (code: number): Promise<number> => {
    stopped ??= shutDown(code);
    return stopped;
  };
  const shutDown = async (code: number) => {
    terminal.endProgress();
    if (pipeline) {
      say(await summarize(pipeline, flags.cycles, sourceOfTopic));
      await pipeline.sweep();
      say(
        await orphanReport(pipeline).catch(
          (error: Error) => `Pending ids unread: ${error.message}`,
        ),
      );
      if (flags.keepState) say(`Pending ids later: npm run pending -- --prefix ${redisKeyPrefix}`);
      await pipeline.stop();
      if (flags.keepState) say(`Redis keys kept under ${redisKeyPrefix} (--keep-state).`);
      else
        say(
          `Removed this run's ${await pipeline.deleteState()} Redis key(s) (${redisKeyPrefix}*).`,
        );
    }
    await Promise.allSettled(sourceMocks.map((mock) => mock.close()));
    await kafka.stop();
    if (kafka.started) say('Kafka broker stopped.');
    if (seedLine) say(seedLine);
    say(`Logs: ${terminal.logFile}  (npm run logs -- --id 1)`);
    terminal.restore();
    return code;
  };
  onStopSignals(
    (signal) => {
      say(`\nStopping (${signal === 'SIGINT' ? 'Ctrl-C' : signal})… (Ctrl-C again quits at once)`);
      void stop(EXIT_CODES[signal]).then((code) => process.exit(code));
    },
    () => {
      say("\nQuitting at once: no summary; the broker is killed, this run's Redis keys are kept.");
      process.exit(130);
    },
  );

  for (const line of chosen.lines) say(line);
  const limit = flags.invocationLimitMs;
  terminal.captureLogs();
  const runtimeLog = createLogger('local-runtime', config.LOG_LEVEL);
  pipeline = await startLocalDeployment({
    ...chosen.options,
    full: flags.full,
    brokers: kafka.brokers,
    redisUrl: config.REDIS_URL,
    redisKeyPrefix,
    topicPrefix,
    records: flags.records,
    pageSize: flags.pageSize,
    batchSize: flags.batchSize,
    retryAttempts: flags.retryAttempts,
    mapping: flags.mapping,
    sourceFaults: flags.faults,
    analyticsFaults: flags.faults,
    faultSeed: flags.faultSeed,
    analyticsHonoursIdempotencyKey: !flags.analyticsIgnoresKey,
    settings: {
      LOG_LEVEL: config.LOG_LEVEL,
      ...(flags.analyticsBatch !== undefined && {
        ANALYTICS_DELIVERY: 'batch',
        ANALYTICS_BATCH_MAX_EVENTS: String(flags.analyticsBatch),
      }),
      ...(limit !== undefined && {
        FETCH_TIME_LIMIT_MS: String(limit),
        FETCH_STOP_MARGIN_MS: '0',
      }),
    },
    fetchLogger: (source) => createLogger(`fetch-${source}`, config.LOG_LEVEL),
    mergeLogger: createLogger('merge', config.LOG_LEVEL),
    // kafkajs errors it retries itself (a coordinator not ready yet) go to the log file; a
    // consumer that stays down stops the run with its reason.
    onKafkaError: (line) => runtimeLog.warn(line),
    onAnalyticsReceive: (payload) => {
      if (flags.quiet) return;
      // Every side the join declares (the original printed customer and inventory), no id.
      const { id: _id, ...sides } = payload as Record<string, unknown>;
      say(`Analytics received: ${maskEmails(javaMapString(sides))}`);
    },
  });
  say(
    flags.analyticsBatch === undefined
      ? 'Analytics delivery: single (one payload per POST)'
      : `Analytics delivery: batch (up to ${flags.analyticsBatch} payloads per request, 500000 bytes)`,
  );
  say(
    `Mocks: CRM ${pipeline.crm.url}  Inventory ${pipeline.inventory.url}  Analytics ${pipeline.analytics.url}`,
  );
  for (const line of operatorLines(pipeline.mergeEnvironment)) say(line);
  if (seedLine) say(seedLine);

  const active = pipeline;
  // Analytics counts cross a thread: the progress line shows the last one read.
  let processed = '0';
  let analyticsDown = false;
  const readProcessed = () =>
    active.analytics.stats().then(
      (stats) => {
        processed = String(stats.received);
      },
      () => {
        processed = '? (the mock worker did not answer)';
      },
    );
  /** While a cycle runs, the Analytics count is the last one read; at its end, read now. */
  const showProgress = async (cycle: number, settled = false) => {
    if (settled) await readProcessed();
    else void readProcessed();
    const t = active.totals;
    const fetched = Object.values(t.fetch).reduce((sum, f) => sum + f.fetched, 0);
    const published = Object.values(t.fetch).reduce((sum, f) => sum + f.published, 0);
    // Both sides: records refused at fetch never reach the merge.
    const atFetch = Object.values(t.fetch).reduce((sum, f) => sum + f.quarantined, 0);
    terminal.progress(
      `cycle ${cycle}${flags.cycles ? `/${flags.cycles}` : ''} | fetched ${fetched} | published ${published} | merged ${t.merge.records} rec | posted ${t.merge.posted} | duplicates ${t.merge.duplicates} | dead-lettered ${t.merge.deadLettered} | quarantined ${atFetch + t.merge.quarantined} (fetch ${atFetch}, merge ${t.merge.quarantined}) | ambiguous retries ${t.merge.ambiguousRetries} | analytics ${processed}`,
      settled,
    );
  };

  for (
    let cycle = 1;
    stopped === undefined && (flags.cycles === 0 || cycle <= flags.cycles);
    cycle++
  ) {
    void showProgress(cycle);
    if (analyticsDown !== cycle <= flags.analyticsDownCycles) {
      analyticsDown = !analyticsDown;
      await active.analytics.setDown(analyticsDown);
      say(analyticsDown ? 'Analytics is down (503) this cycle.' : 'Analytics is back.');
    }
    const results = await active.runCycle();
    for (const result of results) {
      if (result.status === 'rejected') say(`A fetch failed: ${(result.reason as Error).message}`);
    }
    await active.drain(300_000, () => void showProgress(cycle));
    await showProgress(cycle, true);
    const last = flags.cycles !== 0 && cycle === flags.cycles;
    if (!last && stopped === undefined) await new Promise((r) => setTimeout(r, flags.intervalMs));
  }
  if (stopped !== undefined) return stopped;
  await active.analytics.setDown(false);
  if (flags.replay) {
    const replay = await active.replayDeadLetters();
    say(
      `Replayed the dead_letter topic: ${replay.letters} letter(s), ${replay.posted} delivered, ${replay.duplicates} already delivered, ${replay.remaining} left.`,
    );
  } else if (active.totals.merge.deadLettered > 0) {
    say(
      `${active.totals.merge.deadLettered} payload(s) are in the dead_letter topic; --replay re-drives them.`,
    );
  }
  // The same check the summary prints: a run that delivered nothing while the sources sent
  // records, or whose source never fetched, fails here too.
  const { ok } = await verifyDelivery(active);
  return stop(ok ? 0 : 1);
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(`\n${(error as Error).message}\n`);
    process.exit(1);
  });
