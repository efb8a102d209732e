import type { AnalyticsMock, FaultMet, RejectForm } from './analytics-mock.ts';
import type { AnalyticsRecorder } from './analytics-proxy.ts';
import type { MockRecord } from './dataset.ts';
import type { FaultRates, ScriptedFault } from './faults.ts';
import type { SourceMock } from './servers.ts';

/**
 * What the local runtime may ask of a mock that runs in the mock worker: each operation takes
 * and returns plain values (they cross a thread boundary by structured clone).
 */
export function sourceOps(mock: SourceMock) {
  return {
    records: (): MockRecord[] => mock.records,
    setRecords: (records: MockRecord[]): void => {
      mock.records = records;
    },
    upsert: (record: MockRecord): void => mock.upsert(record),
    script: (faults: ScriptedFault[]): void => mock.faults.push(...faults),
    setRates: (rates: Partial<FaultRates>): void => {
      mock.faults.rates = { ...mock.faults.rates, ...rates };
    },
    setLastPage: (page: number | undefined): void => {
      mock.lastPage = page;
    },
    /** Starts noting when each record id is served (for latency measurements). */
    trackServed: (): void => {
      mock.servedAt = new Map();
    },
    servedAt: (): Map<string, number> => mock.servedAt ?? new Map(),
    stats: () => ({ requests: mock.requests, injected: mock.faults.injected }),
  };
}

/** Analytics: the mock, or the recorder in front of a server the user runs (`--analytics-url`). */
export function analyticsOps(mock: AnalyticsMock | AnalyticsRecorder) {
  return {
    receipts: () => mock.received,
    stats: () => mock.stats(),
    /** The faults the mock's requests met and whether each answer was lost (the mock only). */
    faultsMet: (): FaultMet[] => {
      if (!('faultsMet' in mock)) throw new Error(`the faults ${mock.target} meets are up to it`);
      return mock.faultsMet;
    },
    script: (faults: ScriptedFault[]): void => mock.faults.push(...faults),
    setDown: (down: boolean): void => {
      mock.faults.down = down;
    },
    /** Rejects the events of these payload ids in batch requests (none: an empty list). */
    rejectEvents: (ids: string[], form: RejectForm = 'results'): void => {
      if (!('rejectIds' in mock)) throw new Error(`what ${mock.target} rejects is up to it`);
      mock.rejectIds = new Set(ids);
      mock.rejectForm = form;
    },
    honourIdempotencyKey: (honour: boolean): void => {
      if (!('honourIdempotencyKey' in mock)) {
        throw new Error(`whether ${mock.target} honours Idempotency-Key is up to that server`);
      }
      mock.honourIdempotencyKey = honour;
    },
  };
}

export type SourceOps = ReturnType<typeof sourceOps>;
export type AnalyticsOps = ReturnType<typeof analyticsOps>;
export type MockName = 'crm' | 'inventory' | 'analytics';

/** What the worker is started with. */
export type MockWorkerData = {
  records: number;
  sourceFaults?: Partial<FaultRates>;
  analyticsFaults?: Partial<FaultRates>;
  honourIdempotencyKey: boolean;
  /** An Analytics API the user runs: the worker hosts a recorder in front of it, not the mock. */
  analyticsTarget?: string;
  /** Send each processed payload to the parent as it arrives (for printing). */
  streamReceipts: boolean;
  /** The run's fault seed (each mock's is derived from it); the mocks' fixed seeds when unset. */
  faultSeed?: number;
};

export type MockCall = { id: number; mock: MockName; op: string; args: unknown[] };

/** Messages from the worker: started, an answer to a call, or a payload Analytics processed. */
export type MockWorkerMessage =
  | { kind: 'ready'; urls: Record<MockName, string> }
  | { kind: 'result'; id: number; value: unknown }
  | { kind: 'error'; id: number; message: string }
  | { kind: 'received'; body: unknown };
