import type { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';

const isCompleted = (value: unknown): boolean => {
  try {
    const record = (typeof value === 'string' ? JSON.parse(value) : value) as { status?: unknown };
    return record?.status === 'COMPLETED';
  } catch {
    return false;
  }
};

/**
 * Completed marks a call on the merge's idempotency cache writes: batch mode writes them with
 * setMany after a request's 2xx; single mode (Powertools) with set(key, record, { EX }) after the
 * POST. Claims (NX) and orphan take-overs (INPROGRESS) are not marks.
 */
export function marksIn(method: PropertyKey, args: unknown[]): number {
  if (method === 'setMany') {
    return (args[0] as { value: string }[]).filter((record) => isCompleted(record.value)).length;
  }
  if (method === 'set' && !(args[2] as { NX?: boolean } | undefined)?.NX) {
    return isCompleted(args[1]) ? 1 : 0;
  }
  return 0;
}

/**
 * Wraps the cache's methods: `around(method, args, call)` decides what each call does (`call`
 * runs the real one). The methods run on the real client (its private fields need it).
 */
export function aroundCache(
  cache: IoRedisCacheClient,
  around: (method: PropertyKey, args: unknown[], call: () => unknown) => unknown,
): IoRedisCacheClient {
  return new Proxy(cache, {
    get(target, method) {
      const value = Reflect.get(target, method, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => around(method, args, () => value.apply(target, args));
    },
  });
}

/**
 * Counts the completed marks that never reached Redis (the write failed: an outage past the
 * settle window, or a process that died after the 2xx). Each is a payload the sink accepted and
 * Redis does not record as delivered: the retried batch sends it again.
 */
export function countingLostMarks(
  cache: IoRedisCacheClient,
  onLost: (marks: number) => void,
): IoRedisCacheClient {
  return aroundCache(cache, (method, args, call) => {
    const marks = marksIn(method, args);
    const result = call();
    if (marks === 0) return result;
    return Promise.resolve(result).catch((error: unknown) => {
      onLost(marks);
      throw error;
    });
  });
}
