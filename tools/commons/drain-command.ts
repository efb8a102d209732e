import { parseArgs } from 'node:util';
import { ConfigError } from '../../shared/errors.ts';

/** What a drain command (replay, re-drive) ends with: its summary line and what it left behind. */
export type DrainResult = { line: string; remaining: number };

/** Where a command writes: the summary to stdout, progress and errors to stderr. */
export type CommandOutput = { out: (line: string) => void; err: (line: string) => void };

/** A command that drains a topic: `--timeout <seconds>`, `--help`, and its own string options. */
export type DrainCommand<Name extends string> = {
  /** As in "npm run <name>" and "<name> failed: …". */
  name: string;
  usage: string;
  defaultTimeoutSeconds: number;
  /** Its own options, each a string with a default. */
  options: Record<Name, { default: string }>;
  /** The message for a bad option value, or undefined when every value is good. */
  check?: (values: Record<Name, string>) => string | undefined;
  run(values: Record<Name, string>, timeoutMs: number, output: CommandOutput): Promise<DrainResult>;
};

const CONSOLE: CommandOutput = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/**
 * Runs a drain command on `args` and returns its exit code: 0 when it left nothing behind, 1
 * when it did or failed (a bad setting's ConfigError message as it is, then where the settings
 * come from; any other error as "<name> failed: …"), 2 for a bad option value. `--help` prints the usage.
 */
export async function drainCommand<Name extends string>(
  command: DrainCommand<Name>,
  args: string[],
  output: CommandOutput = CONSOLE,
): Promise<number> {
  try {
    const own = Object.fromEntries(
      Object.entries<{ default: string }>(command.options).map(([name, option]) => [
        name,
        { type: 'string' as const, default: option.default },
      ]),
    );
    const { values } = parseArgs({
      args,
      options: {
        ...own,
        timeout: { type: 'string', default: String(command.defaultTimeoutSeconds) },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      output.out(command.usage);
      return 0;
    }
    const timeoutMs = Number(values.timeout) * 1000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      output.err(`--timeout must be a number of seconds, got "${String(values.timeout)}"`);
      return 2;
    }
    const mine = values as Record<Name, string>;
    const problem = command.check?.(mine);
    if (problem !== undefined) {
      output.err(problem);
      return 2;
    }
    const result = await command.run(mine, timeoutMs, output);
    output.out(result.line);
    return result.remaining === 0 ? 0 : 1;
  } catch (error) {
    if (error instanceof ConfigError) {
      output.err(error.message);
      output.err(configHint(command.name));
    } else {
      output.err(`${command.name} failed: ${(error as Error).message}`);
    }
    return 1;
  }
}

/**
 * What a person who ran the command with no settings needs to know: the functions' settings have
 * no local defaults, and a local run prints the command filled in.
 */
export function configHint(name: string): string {
  return `npm run ${name} takes the functions' settings, none of them defaulted (README, Faults and replay); \`npm run local\` prints this command with its run's settings when it starts.`;
}

/** Runs the command on the process's arguments and exits with its code. */
export function runDrainCommand<Name extends string>(command: DrainCommand<Name>): void {
  void drainCommand(command, process.argv.slice(2)).then((code) => process.exit(code));
}
