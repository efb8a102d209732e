import { SETTINGS } from '../shared/config.ts';

/** Settings left out of the printed commands: their defaults do, and they only make noise. */
const LEFT_OUT = new Set(['LOG_LEVEL', 'METRICS', 'DEAD_LETTER_TARGET']);

/** The settings that place a run, first, in this order; the rest follow in the tool's order. */
const FIRST = ['KAFKA_BROKERS', 'TOPIC_PREFIX', 'REDIS_URL', 'REDIS_KEY_PREFIX', 'ANALYTICS_URL'];
const rank = (name: string) => (FIRST.includes(name) ? FIRST.indexOf(name) : FIRST.length);

export type OperatorCommand = {
  /** What it does, for a person. */
  title: string;
  /** The settings it needs, by name, as the tool parses them. */
  env: Record<string, string>;
  /** The npm script. */
  script: 'replay' | 'redrive';
};

/**
 * The commands that work on a running local deployment from another shell: `npm run replay`
 * (the dead_letter topic, with the replay's settings and the broker's) and `npm run redrive`
 * (the failed_<topic> topics, with the merge's settings), each with the settings of the merge
 * that runs here: brokers, topic prefix, Redis and its key prefix, Analytics, delivery mode and,
 * for sources of a --config file, the definitions and join. Settings at their defaults are left
 * out.
 */
export function operatorCommands(mergeEnvironment: Record<string, string>): OperatorCommand[] {
  const pick = (names: readonly string[]) =>
    Object.fromEntries(
      [...names]
        .sort((a, b) => rank(a) - rank(b))
        .flatMap((name) => {
          const value = mergeEnvironment[name];
          return value === undefined || value === '' || LEFT_OUT.has(name) ? [] : [[name, value]];
        }),
    );
  return [
    { title: 'replay the dead letters', env: pick(SETTINGS.topicReplay), script: 'replay' },
    { title: 're-drive the failed batches', env: pick(SETTINGS.merge), script: 'redrive' },
  ];
}

/** A value as a POSIX shell word: as it is when plain, else in single quotes. */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** `scheme://user:password@` anywhere in a value (a URL inside JSON, or one of a list). */
const URL_WITH_PASSWORD = /[a-z][\w+.-]*:\/\/[^\s/@"']*:[^\s/@"']+@/i;

/**
 * Whether a setting's value is, or holds, a URL that carries a password (not to be printed):
 * a whole URL, or one inside a larger value such as a source definition's JSON.
 */
function holdsPassword(value: string): boolean {
  try {
    if (new URL(value).password !== '') return true;
  } catch {
    // Not a URL as a whole: look inside it.
  }
  return URL_WITH_PASSWORD.test(value);
}

/**
 * The command as one line to paste: `NAME=value … npm run <script>`. A URL holding a password
 * is not printed: the line reads it from the shell's variable of the same name instead.
 */
export function commandLine(command: OperatorCommand): string {
  const settings = Object.entries(command.env).map(([name, value]) =>
    holdsPassword(value) ? `${name}="$${name}"` : `${name}=${shellWord(value)}`,
  );
  return [...settings, 'npm', 'run', command.script].join(' ');
}

/** The lines `npm run local` prints at start: each command, ready to paste while it runs. */
export function operatorLines(mergeEnvironment: Record<string, string>): string[] {
  const commands = operatorCommands(mergeEnvironment);
  const hidden = commands.some((command) => Object.values(command.env).some(holdsPassword));
  return [
    'Until this run ends (it then stops its mocks and any broker it started, and removes its Redis keys unless --keep-state), from another shell:',
    ...commands.map((command) => `  ${command.title}: ${commandLine(command)}`),
    ...(hidden ? ['  (a value holding a password is read from your shell, as "$NAME")'] : []),
  ];
}
