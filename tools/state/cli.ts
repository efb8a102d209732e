import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { RedisSyncState } from '../../shared/adapters/redis-sync-state.ts';
import { loadLocalConfig } from '../../shared/config.ts';
import { parseSourceDefinitions, type SourceDefinition } from '../../shared/sources/definition.ts';
import { BUILT_IN_SOURCES } from '../../shared/sources/registry.ts';
import {
  operateSyncState,
  type StateAnswer,
  type StateOperation,
  StateOperationError,
} from '../../shared/use-cases/operate-sync-state.ts';
import { RemoteStateError, stateOnAws } from './aws.ts';
import { stateLines } from './render.ts';

const USAGE = `Usage: npm run state -- show|reset|backfill --source NAME [--from VALUE] [options]

Shows or rewinds a source's sync state: the cursor (or the API's sync token), the checkpoint of
an unfinished run, the lease of a running one and a pending backfill. Locally, in the Redis at
REDIS_URL (the keys the fetch uses: <prefix>sync:{<source>}:…); with --aws, through the source's
fetch function in the deployed stack (the cache is in the VPC).

  show                 print the state
  reset                clear the cursor, token and unfinished run: the next run reads everything
  reset --from VALUE   set the cursor (or the sync token) to VALUE: the next run reads from there
  backfill [--from V]  the next run reads from V (or everything), and the cursor ends no earlier
                       than it is now
  VALUE is an ISO time (2026-12-01T00:00:00Z) or epoch ms for a timestamp change field, a number
  for a numeric one, the token text for a source with syncToken (reset only).
  Nothing delivered is deleted: a payload read again goes out once (its idempotency record is
  kept IDEMPOTENCY_TTL_SECONDS, 24 h by default; older payloads go out again). A reset or
  backfill is refused while a run holds the lease.

  --source NAME  the source (crm, inventory, or one of --config)
  --config FILE  a pipeline definition holding the source (default: the bundled sources)
  --prefix P     the Redis key prefix (REDIS_KEY_PREFIX; a local run's is local:<run>:)
  --aws          ask the stack of --stage: invokes Fetch<source>FunctionName with
                 {"state": {"op": …, "from": …}} (needs lambda:InvokeFunction on it, and
                 cloudformation:DescribeStacks on the stack unless --function is given)
  --stage S      the stack's stage with --aws (default dev)
  --function F   the fetch function's name or ARN with --aws, instead of the stack output
  --json         the answer as JSON
  --help         this text`;

/** Runs the command; returns the exit code. `print` gets the output, `error` one-line errors. */
export async function runStateCommand(
  argv: string[],
  io: { print: (line: string) => void; error: (line: string) => void },
): Promise<number> {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (error) {
    io.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.print(USAGE);
    return 0;
  }
  const [op, ...rest] = positionals;
  if (op !== 'show' && op !== 'reset' && op !== 'backfill') {
    io.error(`name one operation, show, reset or backfill${op ? `, not "${op}"` : ''}\n\n${USAGE}`);
    return 2;
  }
  if (rest.length > 0 || values.source === undefined) {
    io.error(
      `${rest.length > 0 ? `unexpected "${rest.join(' ')}"` : '--source NAME is required'}\n\n${USAGE}`,
    );
    return 2;
  }
  const operation: StateOperation = {
    op,
    ...(values.from !== undefined && { from: values.from }),
  };
  try {
    let answer: StateAnswer;
    let where: string;
    if (values.aws) {
      if (values.prefix !== undefined || values.config !== undefined)
        throw new StateOperationError('--prefix and --config are for the local Redis, not --aws');
      const stage = values.stage ?? 'dev';
      answer = await stateOnAws(stage, values.source, operation, values.function);
      where = `stage ${stage}`;
    } else {
      if (values.stage !== undefined || values.function !== undefined)
        throw new StateOperationError('--stage and --function go with --aws');
      const source = await sourceNamed(values.source, values.config);
      const url = loadLocalConfig().REDIS_URL;
      const redis = await connectRedis({ url });
      try {
        answer = await operateSyncState(
          source,
          operation,
          new RedisSyncState(redis, values.prefix ?? ''),
        );
      } finally {
        redis.disconnect();
      }
      where = `Redis ${new URL(url).host}${values.prefix ? `, prefix ${values.prefix}` : ''}`;
    }
    if (values.json) io.print(JSON.stringify(answer, null, 2));
    else for (const line of stateLines(answer, where)) io.print(line);
    return 0;
  } catch (error) {
    if (error instanceof StateOperationError || error instanceof RemoteStateError) {
      io.error(error.message);
      return 1;
    }
    throw error;
  }
}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      source: { type: 'string' },
      from: { type: 'string' },
      config: { type: 'string' },
      prefix: { type: 'string' },
      aws: { type: 'boolean', default: false },
      stage: { type: 'string' },
      function: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

async function sourceNamed(name: string, config: string | undefined): Promise<SourceDefinition> {
  let sources: readonly SourceDefinition[] = BUILT_IN_SOURCES;
  if (config !== undefined) {
    const file = JSON.parse(await readFile(config, 'utf8')) as { sources?: unknown };
    sources = parseSourceDefinitions(file.sources, `${config}: sources`);
  }
  const source = sources.find((candidate) => candidate.name === name);
  if (!source) {
    throw new StateOperationError(
      `no source "${name}"${config ? ` in ${config}` : ''}; the sources are ${sources.map((s) => s.name).join(', ')}`,
    );
  }
  return source;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runStateCommand(process.argv.slice(2), {
    print: (line) => console.log(line),
    error: (line) => console.error(line),
  }).catch((error: unknown) => {
    // A bad --config, Redis unreachable, AWS credentials: one line, no stack.
    console.error((error as Error).message);
    return 1;
  });
}
