import { describe, expect, it } from 'vitest';
import { createLogger, type Log, logsAt } from '../../shared/logger.ts';

describe('logsAt: whether per-record lines are written at the logger level', () => {
  it('follows a Powertools logger level, including a change of level', () => {
    const logger = createLogger('test', 'WARN');
    expect(logsAt(logger, 'INFO')).toBe(false);
    expect(logsAt(logger, 'DEBUG')).toBe(false);
    logger.setLogLevel('INFO');
    expect(logsAt(logger, 'INFO')).toBe(true);
    expect(logsAt(logger, 'DEBUG')).toBe(false);
    logger.setLogLevel('DEBUG');
    expect(logsAt(logger, 'DEBUG')).toBe(true);
  });

  it('takes a log that is not a Powertools logger (a test double) to write every line', () => {
    const lines: string[] = [];
    const log: Log = {
      debug: (message: string) => void lines.push(message),
      info: (message: string) => void lines.push(message),
      warn: (message: string) => void lines.push(message),
      error: (message: string) => void lines.push(message),
    } as Log;
    expect(logsAt(log, 'INFO')).toBe(true);
    expect(logsAt(log, 'DEBUG')).toBe(true);
  });
});
