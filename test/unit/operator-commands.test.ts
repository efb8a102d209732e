import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  commandLine,
  operatorCommands,
  operatorLines,
  shellWord,
} from '../../local/operator-commands.ts';

/** A merge environment as `npm run local` builds it (local/wiring.ts). */
const MERGE_ENV = {
  KAFKA_BROKERS: '127.0.0.1:35293',
  TOPIC_PREFIX: '',
  LOG_LEVEL: 'INFO',
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_KEY_PREFIX: 'local:de677358:',
  ANALYTICS_URL: 'http://127.0.0.1:34381/analytics',
  DEAD_LETTER_TARGET: 'kafka',
  FETCH_TIME_LIMIT_MS: '500',
};

/** What sh makes of a word: the value a pasted command hands the tool. */
const throughShell = (word: string) =>
  execFileSync('sh', ['-c', `VALUE=${word}; printf %s "$VALUE"`], { encoding: 'utf8' });

describe('the replay and re-drive commands npm run local prints', () => {
  it("gives each tool this run's broker, Redis, key prefix and Analytics, and nothing at its default", () => {
    const [replay, redrive] = operatorCommands(MERGE_ENV);
    const needed = {
      KAFKA_BROKERS: '127.0.0.1:35293',
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: 'local:de677358:',
      ANALYTICS_URL: 'http://127.0.0.1:34381/analytics',
    };
    expect(replay).toEqual({ title: 'replay the dead letters', env: needed, script: 'replay' });
    expect(redrive).toEqual({
      title: 're-drive the failed batches',
      env: needed,
      script: 'redrive',
    });
    expect(commandLine(replay as never)).toBe(
      'KAFKA_BROKERS=127.0.0.1:35293 REDIS_URL=redis://127.0.0.1:6379 REDIS_KEY_PREFIX=local:de677358: ANALYTICS_URL=http://127.0.0.1:34381/analytics npm run replay',
    );
  });

  it("adds the run's topic prefix, delivery mode and, for the re-drive, a --config file's sources and join", () => {
    const sources = JSON.stringify([{ name: "o'brien", path: '/x y' }]);
    const [replay, redrive] = operatorCommands({
      ...MERGE_ENV,
      TOPIC_PREFIX: 'run-de677358.',
      ANALYTICS_DELIVERY: 'batch',
      ANALYTICS_BATCH_MAX_EVENTS: '500',
      PIPELINE_SOURCES: sources,
      PIPELINE_JOIN: '{"missing":"emit after 10m"}',
    });
    expect(replay?.env).toMatchObject({
      TOPIC_PREFIX: 'run-de677358.',
      ANALYTICS_DELIVERY: 'batch',
      ANALYTICS_BATCH_MAX_EVENTS: '500',
    });
    expect(replay?.env).not.toHaveProperty('PIPELINE_SOURCES');
    expect(redrive?.env).toMatchObject({
      TOPIC_PREFIX: 'run-de677358.',
      PIPELINE_SOURCES: sources,
    });
    // Pasted into a shell, the JSON reaches the tool unchanged.
    const line = commandLine(redrive as never);
    const word = line.slice(line.indexOf('PIPELINE_SOURCES=') + 17).split(' PIPELINE_JOIN=')[0];
    expect(throughShell(word as string)).toBe(sources);
  });

  it('quotes only what the shell would otherwise change', () => {
    expect(shellWord('local:abc:')).toBe('local:abc:');
    for (const value of ['a b', "it's", '$HOME', '{"a":[1]}', 'x;y', '']) {
      expect(throughShell(shellWord(value))).toBe(value);
    }
  });

  it('never prints a password: such a URL is read from the shell instead', () => {
    const lines = operatorLines({ ...MERGE_ENV, REDIS_URL: 'redis://:s3cret@cache:6379' });
    expect(lines.join('\n')).not.toContain('s3cret');
    expect(lines[1]).toContain('REDIS_URL="$REDIS_URL" ');
    expect(lines.at(-1)).toBe('  (a value holding a password is read from your shell, as "$NAME")');
  });

  it('never prints a password inside a larger value, such as a source definition', () => {
    const sources = JSON.stringify([{ name: 'crm', url: 'https://svc:hunter2@crm.test/c' }]);
    const line = operatorLines({ ...MERGE_ENV, PIPELINE_SOURCES: sources }).join('\n');
    expect(line).not.toContain('hunter2');
    expect(line).toContain('PIPELINE_SOURCES="$PIPELINE_SOURCES"');
    // A URL with a user and no password, or a plain host:port, is printed as it is.
    const plain = JSON.stringify([{ name: 'crm', url: 'https://svc@crm.test/c' }]);
    expect(operatorLines({ ...MERGE_ENV, PIPELINE_SOURCES: plain }).join('\n')).toContain(
      'svc@crm.test',
    );
  });
});
