import { Logger } from '@aws-lambda-powertools/logger';

/** The logging calls the pipeline makes; Powertools' Logger provides them. */
export type Log = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

const SECRET_KEYS = /^(password|token|secret|authorization|apikey|api_key|auth)$/i;
const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-])[A-Za-z0-9.-]*\.([A-Za-z]{2,})/g;

/** "jane.doe@example.com" -> "j***@e***.com": enough to tell two apart, not to write to them. */
export function maskEmails(text: string): string {
  return text.replace(
    EMAIL,
    (_match, first: string, domain: string, tld: string) => `${first}***@${domain}***.${tld}`,
  );
}

/**
 * JSON replacer for every log line: secrets (by key) become "***", emails anywhere in a string
 * are masked, and Errors keep their name, message and context fields; an Error with a `cause`
 * also gets `rootCause`, the innermost error of its chain ("Name: message"), so the line shows
 * what went wrong first (Powertools nests the whole chain under `cause` too).
 */
export function maskSensitive(key: string, value: unknown): unknown {
  if (SECRET_KEYS.test(key) && value !== undefined && value !== null) return '***';
  if (typeof value === 'string') return maskEmails(value);
  if (value instanceof Error && value.cause !== undefined && !Object.hasOwn(value, 'rootCause')) {
    return withRootCause(value);
  }
  return value;
}

/** Causes followed at most, so a cycle of causes ends. */
const MAX_CAUSES = 16;

/** The innermost cause of an error (itself when it has none), as "Name: message". */
export function rootCauseOf(error: Error): string {
  let root: unknown = error;
  for (let depth = 0; depth < MAX_CAUSES; depth++) {
    if (!(root instanceof Error) || root.cause === undefined) break;
    root = root.cause;
  }
  return root instanceof Error ? `${root.name}: ${root.message}` : String(root);
}

/** A copy of the error (same class, same fields) with its `rootCause`; the error is not changed. */
function withRootCause(error: Error): Error {
  const copy = Object.create(
    Object.getPrototypeOf(error),
    Object.getOwnPropertyDescriptors(error),
  ) as Error & { rootCause?: string };
  // V8 keeps `stack` behind an accessor bound to the original: the copy takes its value.
  Object.defineProperty(copy, 'stack', { value: error.stack, enumerable: false });
  copy.rootCause = rootCauseOf(error);
  return copy;
}

/** Powertools' level thresholds (LogLevelThreshold): a line is written at or above the level. */
const THRESHOLDS: Record<string, number> = {
  TRACE: 6,
  DEBUG: 8,
  INFO: 12,
  WARN: 16,
  ERROR: 20,
  CRITICAL: 24,
  SILENT: 28,
};

/**
 * Whether `log` writes lines at `level` now: a Powertools Logger says by its level; any other Log
 * is taken to write them. Per-record lines check it once per batch, so that at WARN the batch
 * does not build a context object and go through the logger for each record.
 */
export function logsAt(log: Log, level: 'DEBUG' | 'INFO'): boolean {
  const name = (log as Partial<Pick<Logger, 'getLevelName'>>).getLevelName?.();
  const threshold = name === undefined ? undefined : THRESHOLDS[name];
  return threshold === undefined || threshold <= (THRESHOLDS[level] as number);
}

/** Creates the logger of a function or local component, with masking on every line. */
export function createLogger(serviceName: string, logLevel: string): Logger {
  return new Logger({
    serviceName,
    logLevel: logLevel.toUpperCase() as 'INFO',
    jsonReplacerFn: maskSensitive,
  });
}
