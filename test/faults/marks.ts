import type { IoRedisCacheClient } from '../../shared/adapters/idempotency-cache.ts';

const statusOf = (value: unknown): unknown => {
  try {
    const record = (typeof value === 'string' ? JSON.parse(value) : value) as { status?: unknown };
    return record?.status;
  } catch {
    return undefined;
  }
};

/** The records a call on the merge's idempotency cache writes, with their status. */
function writesIn(method: PropertyKey, args: unknown[]): { key: string; status: unknown }[] {
  if (method === 'set' && typeof args[0] === 'string') {
    return [{ key: args[0], status: statusOf(args[1]) }];
  }
  // Batch mode's bulk claims and marks: many records in one call.
  if (method === 'setMany' && Array.isArray(args[0])) {
    return (args[0] as { key: string; value: unknown }[]).map(({ key, value }) => ({
      key,
      status: statusOf(value),
    }));
  }
  return [];
}

/**
 * Completed marks a call writes: single mode writes a record through the persistence layer's
 * set(key, record, { EX }) after the 2xx, batch mode the records of a request's payloads in one
 * setMany.
 */
export function marksIn(method: PropertyKey, args: unknown[]): number {
  return writesIn(method, args).filter((write) => write.status === 'COMPLETED').length;
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
 * Counts the completed marks lost: a payload claimed again (an INPROGRESS record written: a claim
 * or an orphan take-over, in either mode) while the COMPLETED write that followed its last 2xx
 * had not succeeded (it failed: a process that died after the 2xx, an outage past the settle
 * window; or it was still retrying). Each is a payload the sink accepted that the merge may send
 * again, and is counted once per such claim. A mark that reached Redis and vanished (a broken
 * dedupe) is not counted: the claim that follows finds the mark written.
 */
export function countingLostMarks(
  cache: IoRedisCacheClient,
  onLost: (marks: number) => void,
): IoRedisCacheClient {
  /** Keys whose last completed mark has not (yet) reached Redis, with that write's token. */
  const unconfirmed = new Map<string, symbol>();
  return aroundCache(cache, (method, args, call) => {
    const writes = writesIn(method, args);
    const claimed = writes.filter((write) => write.status === 'INPROGRESS');
    const lost = claimed.filter((write) => unconfirmed.delete(write.key)).length;
    if (lost > 0) onLost(lost);
    const marks = writes
      .filter((write) => write.status === 'COMPLETED')
      .map((write) => ({ key: write.key, token: Symbol(write.key) }));
    for (const { key, token } of marks) unconfirmed.set(key, token);
    const result = call();
    if (marks.length === 0) return result;
    return Promise.resolve(result).then((value) => {
      // Confirmed, unless the payload was claimed again (and perhaps marked again) meanwhile.
      for (const { key, token } of marks) {
        if (unconfirmed.get(key) === token) unconfirmed.delete(key);
      }
      return value;
    });
  });
}
