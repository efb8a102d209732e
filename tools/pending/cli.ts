import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ageText, pendingLines } from '../../local/orphans.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { RedisPendingIndex } from '../../shared/adapters/redis-pending-index.ts';
import { loadLocalConfig } from '../../shared/config.ts';
import { parseSourceDefinitions } from '../../shared/sources/definition.ts';
import { parseJoinDefinition } from '../../shared/sources/join.ts';
import { BUILT_IN_SOURCES } from '../../shared/sources/registry.ts';
import { pendingOnAws } from './aws.ts';

const USAGE = `Usage: npm run pending -- [options]

Lists the ids still missing a required side of the join, oldest first, with their age and the
sides they hold and lack, from the Redis at REDIS_URL. With --aws, asks the deployed stack's
sweeper instead (the cache is in the VPC): it invokes the function named by the stack output
SweepFunctionName with {"list": N}, using your AWS credentials and region.

  --prefix P     the Redis key prefix of the pipeline (a local run prints its own:
                 local:<run>:); without it, every prefix holding a pending index is listed
  --config FILE  the pipeline definition whose join to read (default: the bundled one)
  --limit N      ids shown per join (default 20)
  --aws          ask the sweeper of the stack of --stage (needs lambda:InvokeFunction on it and
                 cloudformation:DescribeStacks on the stack)
  --stage S      the stack's stage with --aws (default dev)
  --function F   the sweeper's function name or ARN with --aws, instead of the stack output
  --help         this text`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      prefix: { type: 'string' },
      config: { type: 'string' },
      limit: { type: 'string' },
      aws: { type: 'boolean', default: false },
      stage: { type: 'string' },
      function: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const limit = Number(values.limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1)
    throw new Error(`--limit must be a whole number ≥ 1, got "${values.limit}"`);
  if (values.aws) {
    for (const line of await pendingOnAws(values.stage ?? 'dev', values.function, limit))
      console.log(line);
    return 0;
  }
  if (values.stage !== undefined || values.function !== undefined)
    throw new Error('--stage and --function go with --aws');
  let sources = [...BUILT_IN_SOURCES];
  let rawJoin: unknown = {};
  if (values.config) {
    const file = JSON.parse(await readFile(values.config, 'utf8')) as {
      sources?: unknown;
      join?: unknown;
    };
    sources = parseSourceDefinitions(file.sources, `${values.config}: sources`);
    rawJoin = file.join ?? {};
  }
  const join = parseJoinDefinition(
    rawJoin,
    sources,
    values.config ? `${values.config}: join` : 'join',
  );
  const redis = await connectRedis({ url: loadLocalConfig().REDIS_URL });
  try {
    const suffix = `pending:${join.name}`;
    const prefixes = new Set<string>();
    if (values.prefix !== undefined) prefixes.add(values.prefix);
    else {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `*${suffix}`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) prefixes.add(key.slice(0, key.length - suffix.length));
      } while (cursor !== '0');
    }
    if (prefixes.size === 0) console.log(`No pending ids for join ${join.name}.`);
    const now = Date.now();
    for (const keyPrefix of [...prefixes].sort()) {
      const index = new RedisPendingIndex(redis, { keyPrefix, join });
      const stats = await index.stats();
      const oldest =
        stats.oldestFirstSeenMs === null
          ? ''
          : `, the oldest waiting ${ageText(now - stats.oldestFirstSeenMs)}`;
      console.log(
        `${keyPrefix || '(no prefix)'} join ${join.name}: ${stats.pending} pending${oldest}`,
      );
      for (const line of pendingLines(join, await index.list(limit), now)) console.log(line);
    }
  } finally {
    redis.disconnect();
  }
  return 0;
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  });
