import { Worker } from 'node:worker_threads';
import { PipelineError } from '../../shared/errors.ts';
import type { AnalyticsStats, FaultMet, Received, RejectForm } from './analytics-mock.ts';
import type { MockRecord } from './dataset.ts';
import type { FaultRates, ScriptedFault } from './faults.ts';
import type {
  AnalyticsOps,
  MockCall,
  MockName,
  MockWorkerData,
  MockWorkerMessage,
  SourceOps,
} from './mock-ops.ts';

/** Thrown when the mock worker cannot start, or answers a call with an error. */
export class MockWorkerError extends PipelineError {
  override readonly name = 'MockWorkerError';
  constructor(
    readonly mock: MockName | 'worker',
    detail: string,
  ) {
    super(`mock ${mock}: ${detail}`);
  }
}

export type MockHostOptions = {
  records: number;
  sourceFaults?: Partial<FaultRates>;
  analyticsFaults?: Partial<FaultRates>;
  /** Whether Analytics honours Idempotency-Key (default true). */
  honourIdempotencyKey?: boolean;
  /** Record what is posted to this Analytics API the user runs instead of hosting the mock. */
  analyticsTarget?: string;
  /** Called for each payload Analytics processes, shortly after (it crosses a thread). */
  onReceive?: (payload: unknown) => void;
  /** The run's fault seed, from which each mock's is derived (fixed seeds when unset). */
  faultSeed?: number;
};

type Caller = (mock: MockName, op: string, args: unknown[]) => Promise<unknown>;
type Ops = Record<string, (...args: never[]) => unknown>;

/** A typed handle on one mock in the worker: `call(op, ...args)` runs its operation there. */
class Remote<O extends Ops> {
  constructor(
    readonly url: string,
    protected readonly name: MockName,
    private readonly caller: Caller,
  ) {}

  call<K extends keyof O & string>(op: K, ...args: Parameters<O[K]>): Promise<ReturnType<O[K]>> {
    return this.caller(this.name, op, args) as Promise<ReturnType<O[K]>>;
  }
}

/** A mock source API (CRM or Inventory) running in the mock worker. */
export class RemoteSource extends Remote<SourceOps> {
  /** The records the source holds now. */
  records = (): Promise<MockRecord[]> => this.call('records');
  setRecords = (records: MockRecord[]) => this.call('setRecords', records);
  /** Replaces the record with this id (or adds it): a change at the source. */
  upsert = (record: MockRecord) => this.call('upsert', record);
  /** Reads the records, lets `change` edit them, and stores the result. */
  async update(change: (records: MockRecord[]) => void): Promise<void> {
    const records = await this.records();
    change(records);
    await this.setRecords(records);
  }
  /** Queues faults for the next requests, in order. */
  script = (...faults: ScriptedFault[]) => this.call('script', faults);
  /** The listing claims to end after this page (undefined: the real end). */
  setLastPage = (page: number | undefined) => this.call('setLastPage', page);
  /** Starts noting when each record id is served; servedAt() reads the times (epoch ms). */
  trackServed = () => this.call('trackServed');
  servedAt = (): Promise<Map<string, number>> => this.call('servedAt');
}

/** The mock Analytics API running in the mock worker. */
export class RemoteAnalytics extends Remote<AnalyticsOps> {
  /** Every payload processed so far, in order, with its headers. */
  receipts = (): Promise<Received[]> => this.call('receipts');
  stats = (): Promise<AnalyticsStats> => this.call('stats');
  /** The faults requests met, in order, and whether each cost the client its answer. */
  faultsMet = (): Promise<FaultMet[]> => this.call('faultsMet');
  script = (...faults: ScriptedFault[]) => this.call('script', faults);
  /** While down, every request is answered 503. */
  setDown = (down: boolean) => this.call('setDown', down);
  honourIdempotencyKey = (honour: boolean) => this.call('honourIdempotencyKey', honour);
  /** Batch requests reject the events of these payload ids (per index, or with a 400). */
  rejectEvents = (ids: string[], form?: RejectForm) => this.call('rejectEvents', ids, form);
}

export type MockHost = {
  crm: RemoteSource;
  inventory: RemoteSource;
  analytics: RemoteAnalytics;
  stop(): Promise<void>;
};

/**
 * Starts the mock CRM, Inventory and Analytics APIs in a worker thread of their own, on free
 * loopback ports, and returns handles that control and read them. Calls are answered in order,
 * and after every payload notice sent before them.
 */
export async function startMockHost(options: MockHostOptions): Promise<MockHost> {
  const data: MockWorkerData = {
    records: options.records,
    ...(options.sourceFaults && { sourceFaults: options.sourceFaults }),
    ...(options.analyticsFaults && { analyticsFaults: options.analyticsFaults }),
    honourIdempotencyKey: options.honourIdempotencyKey ?? true,
    ...(options.analyticsTarget && { analyticsTarget: options.analyticsTarget }),
    streamReceipts: options.onReceive !== undefined,
    ...(options.faultSeed !== undefined && { faultSeed: options.faultSeed }),
  };
  // The worker loads TypeScript through tsx, whether the parent runs under tsx or vitest.
  const worker = new Worker(new URL('./mock-worker.ts', import.meta.url), {
    workerData: data,
    execArgv: ['--import', 'tsx'],
  });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 0;
  let failure: Error | undefined;
  const failAll = (error: Error) => {
    failure = error;
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };

  const urls = await new Promise<Record<MockName, string>>((resolve, reject) => {
    worker.on('message', (message: MockWorkerMessage) => {
      switch (message.kind) {
        case 'ready':
          resolve(message.urls);
          break;
        case 'received':
          options.onReceive?.(message.body);
          break;
        case 'result':
          pending.get(message.id)?.resolve(message.value);
          pending.delete(message.id);
          break;
        case 'error':
          pending.get(message.id)?.reject(new MockWorkerError('worker', message.message));
          pending.delete(message.id);
          break;
      }
    });
    worker.on('error', (error) => {
      const wrapped = new MockWorkerError('worker', error.message);
      failAll(wrapped);
      reject(wrapped);
    });
    worker.on('exit', (code) => {
      const stopped = new MockWorkerError('worker', `stopped (exit code ${code})`);
      failAll(stopped);
      reject(stopped);
    });
  });

  const caller: Caller = (mock, op, args) => {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, mock, op, args } satisfies MockCall);
    });
  };
  let stopped: Promise<void> | undefined;
  return {
    crm: new RemoteSource(urls.crm, 'crm', caller),
    inventory: new RemoteSource(urls.inventory, 'inventory', caller),
    analytics: new RemoteAnalytics(urls.analytics, 'analytics', caller),
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (failure) return resolve();
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
        // A worker that does not close its servers in time is ended.
        setTimeout(() => void worker.terminate(), 5_000).unref();
      });
      return stopped;
    },
  };
}
