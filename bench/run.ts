import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureRedis, provideKafka } from '../local/environment.ts';
import { table } from '../local/terminal.ts';
import { createKafka } from '../shared/adapters/kafka.ts';
import { loadLocalConfig } from '../shared/config.ts';
import {
  batchPostLimit,
  idempotencyLimit,
  kafkaLimit,
  naiveMerge,
  postLimit,
  redisLimit,
} from './baselines.ts';
import { ownRedisServer, pingMs } from './own-redis.ts';
import { type Env, endToEnd, fetchStage, mergeStage } from './stages.ts';

const USAGE = `npm run bench -- [--quick] [--shared-redis]

Measures each stage and the whole pipeline on real Kafka (started here unless KAFKA_BROKERS is
set) and Redis, with the mock APIs on loopback; prints a table and writes the figures to
bench/results/. Speed is reported, never asserted. --quick runs smaller sizes (under a minute).

Redis is a redis-server of the run's own (the one on PATH, no persistence), as a deployed merge
has its ElastiCache to itself; --shared-redis uses REDIS_URL instead (so does a machine without
redis-server), whose other clients and keys then count in the figures.`;

type Figure = { records: number; seconds: number; perSecond: number } & Record<string, number>;
type Row = { name: string; figure: Figure; compare?: { label: string; ratio: number }[] };

const TARGETS = { mergePerSecond: 20_000, endToEndPerSecond: 5_000, mergeMemoryMb: 256 };

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      'shared-redis': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = values.quick;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const config = loadLocalConfig();
  const ownRedis = values['shared-redis']
    ? undefined
    : await ownRedisServer().catch((error: unknown) => {
        say(`No redis-server of its own (${(error as Error).message}): using REDIS_URL.`);
        return undefined;
      });
  process.on('exit', () => ownRedis?.child.kill('SIGTERM'));
  const redisUrl = ownRedis?.url ?? config.REDIS_URL;
  if (!ownRedis) await ensureRedis(redisUrl, say);
  const redisPingMs = await pingMs(redisUrl);
  const loadAtStart = loadavg()[0] ?? 0;
  say(
    `Redis at ${redisUrl}${ownRedis ? ' (its own, started for this run)' : ''}: PING ${redisPingMs.toFixed(2)} ms (median); load average ${loadAtStart.toFixed(1)} on ${cpus().length} cores.`,
  );
  const kafkaHost = await provideKafka(config.KAFKA_BROKERS, say);
  const kafka = createKafka({
    brokers: kafkaHost.brokers.split(','),
    clientId: 'bench',
    auth: 'none',
  });
  const env: Env = { brokers: kafkaHost.brokers, redisUrl, kafka };
  const sizes = {
    fetch: quick ? 5_000 : 50_000,
    merge: quick ? [100, 1_000, 5_000] : [100, 1_000, 10_000],
    naive: quick ? 500 : 2_000,
    e2e: quick ? 3_000 : 20_000,
  };
  const rows: Row[] = [];
  const step = async <T extends Figure>(name: string, run: () => Promise<T>): Promise<T> => {
    say(`• ${name}…`);
    const figure = await run();
    rows.push({ name, figure });
    say(`  ${Math.round(figure.perSecond).toLocaleString('en')} records/s`);
    return figure;
  };
  const started = Date.now();
  let modes: { single: Figure; batched: Figure } | undefined;
  try {
    const kafkaMax = await step(`kafka limit: raw kafkajs produce, ${sizes.fetch}`, () =>
      kafkaLimit(env, sizes.fetch),
    );
    for (const pageSize of [100, 1_000]) {
      const fetched = await step(`fetch -> kafka, pages of ${pageSize}`, () =>
        fetchStage(env, sizes.fetch, pageSize),
      );
      compare(rows, fetched, [['kafka limit', kafkaMax.perSecond]]);
    }
    await step('fetch -> kafka, pages of 1000, per-record INFO logs', () =>
      fetchStage(env, sizes.fetch, 1_000, 'INFO'),
    );

    const largest = sizes.merge.at(-1) ?? 1_000;
    const redisMax = await step(`redis limit: pipelined writes, ${largest}`, () =>
      redisLimit(env, largest),
    );
    const postMax = await step(`analytics limit: node:http POSTs, 32 in flight, ${largest}`, () =>
      postLimit(largest, 'http'),
    );
    await step(`analytics limit: fetch POSTs, 32 in flight, ${largest}`, () =>
      postLimit(largest, 'fetch'),
    );
    const batchPostMax = await step(
      'analytics limit: the mock taking batch POSTs of 500, 32 in flight, 10000',
      () => batchPostLimit(10_000),
    );
    const idempotencyMax = await step(`idempotency alone: Powertools over Redis, ${largest}`, () =>
      idempotencyLimit(env, largest),
    );
    const naive = await step(`naive baseline: one at a time, ${sizes.naive}`, () =>
      naiveMerge(env, sizes.naive),
    );
    for (const size of sizes.merge) {
      const merged = await step(`merge stage, MSK batch of ${size}`, () => mergeStage(env, size));
      compare(rows, merged, [
        ['naive', naive.perSecond],
        ['redis limit', redisMax.perSecond],
        ['POST limit', postMax.perSecond],
        ['idempotency alone', idempotencyMax.perSecond],
      ]);
    }
    // Both delivery modes on the same 10,000-record batch, one after the other in this run.
    const single = await step('merge stage, single delivery, MSK batch of 10000', () =>
      mergeStage(env, 10_000, 'single'),
    );
    const batched = await step(
      'merge stage, batch delivery (500/request), MSK batch of 10000',
      () => mergeStage(env, 10_000, 'batch'),
    );
    compare(rows, batched, [
      ['single', single.perSecond],
      ['POST limit', postMax.perSecond],
      ['batch POST limit', batchPostMax.perSecond],
    ]);
    modes = { single, batched };
    const e2e = await step(`end to end, ${sizes.e2e} + ${sizes.e2e} records`, () =>
      endToEnd(env, sizes.e2e),
    );
    compare(rows, e2e, [['naive', naive.perSecond]]);
    const e2eBatched = await step(
      `end to end, batch delivery (500/request), ${sizes.e2e} + ${sizes.e2e} records`,
      () => endToEnd(env, sizes.e2e, 'batch'),
    );
    compare(rows, e2eBatched, [
      ['naive', naive.perSecond],
      ['single', e2e.perSecond],
    ]);
  } finally {
    await kafkaHost.stop();
    ownRedis?.child.kill('SIGTERM');
  }

  const merge = rows
    .filter(
      (row) =>
        row.name.startsWith('merge stage, MSK') || row.name.startsWith('merge stage, single'),
    )
    .at(-1)?.figure;
  const e2e = rows.find((row) => row.name.startsWith('end to end'))?.figure;
  const e2eBatched = rows.find((row) => row.name.startsWith('end to end, batch'))?.figure;
  console.log(
    table(
      ['measurement', 'records', 'seconds', 'records/s', 'compared with', 'extra'],
      rows.map(({ name, figure, compare: ratios }) => [
        name,
        figure.records,
        figure.seconds.toFixed(2),
        Math.round(figure.perSecond).toLocaleString('en'),
        (ratios ?? []).map((r) => `${r.ratio.toFixed(2)}x ${r.label}`).join(', '),
        extras(figure),
      ]),
    ),
  );
  const verdicts = [
    merge && `merge ${Math.round(merge.perSecond)} records/s (target ${TARGETS.mergePerSecond})`,
    merge && `merge peak RSS ${merge.peakRssMb?.toFixed(0)} MB (target < ${TARGETS.mergeMemoryMb})`,
    modes &&
      `merge batched ${Math.round(modes.batched.perSecond)} records/s (target ${TARGETS.mergePerSecond}), peak RSS ${modes.batched.peakRssMb?.toFixed(0)} MB`,
    modes &&
      `batched/single: ${(modes.batched.perSecond / modes.single.perSecond).toFixed(1)}x (target 3x); by CPU seconds ${((modes.single.cpuSeconds ?? 0) / (modes.batched.cpuSeconds ?? 1)).toFixed(1)}x`,
    `load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end, on ${cpus().length} cores; Redis PING ${redisPingMs.toFixed(2)} ms${ownRedis ? ' (its own redis-server)' : ' (REDIS_URL, shared)'}`,
    e2e &&
      `end to end ${Math.round(e2e.perSecond)} records/s (target ${TARGETS.endToEndPerSecond}), p50 ${e2e.p50Ms} ms, p99 ${e2e.p99Ms} ms`,
    e2eBatched &&
      `end to end, batch delivery ${Math.round(e2eBatched.perSecond)} records/s, p50 ${e2eBatched.p50Ms} ms, p99 ${e2eBatched.p99Ms} ms`,
  ].filter(Boolean);
  console.log(
    `\n${verdicts.join('\n')}\n(${quick ? 'quick' : 'full'} run, ${((Date.now() - started) / 1000).toFixed(0)} s)`,
  );

  const results = {
    at: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGb: totalmem() / 2 ** 30,
      node: process.version,
      loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
    },
    redis: { own: ownRedis !== undefined, pingMs: redisPingMs },
    targets: TARGETS,
    rows,
  };
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${results.at.replace(/[:.]/g, '-')}-${results.mode}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, `latest-${results.mode}.json`), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nThe figures as JSON (also written to ${file}):`);
  console.log(JSON.stringify(results));
  return 0;
}

function compare(rows: Row[], figure: Figure, against: [string, number][]) {
  const row = rows.find((r) => r.figure === figure);
  if (row)
    row.compare = against.map(([label, perSecond]) => ({
      label,
      ratio: figure.perSecond / perSecond,
    }));
}

function extras(figure: Figure): string {
  const parts: string[] = [];
  if (figure.peakRssMb !== undefined) parts.push(`peak RSS ${figure.peakRssMb.toFixed(0)} MB`);
  if (figure.rssGrowthMb !== undefined)
    parts.push(`+${figure.rssGrowthMb.toFixed(0)} MB in the batch`);
  if (figure.repeatPerSecond !== undefined) {
    parts.push(`again as duplicates ${Math.round(figure.repeatPerSecond).toLocaleString('en')}/s`);
  }
  if (figure.cpuSeconds !== undefined) {
    parts.push(
      `CPU ${figure.cpuSeconds.toFixed(2)} s (${Math.round(figure.records / figure.cpuSeconds).toLocaleString('en')} records per CPU-second)`,
    );
  }
  if (figure.idleSeconds !== undefined) {
    parts.push(`waiting for Redis/Analytics ${figure.idleSeconds.toFixed(2)} s`);
  }
  if (figure.p50Ms !== undefined) parts.push(`p50 ${figure.p50Ms} ms, p99 ${figure.p99Ms} ms`);
  return parts.join(', ');
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    // A wrong flag is the user's to fix: its message and the usage, no stack.
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(error as Error).message} (npm run bench -- --help lists the flags)`);
      process.exit(2);
    }
    console.error(`benchmark failed: ${(error as Error).stack ?? error}`);
    process.exit(1);
  });
