import { parentPort, workerData } from 'node:worker_threads';
import { SOURCES } from '../../shared/sources/registry.ts';
import { AnalyticsMock } from './analytics-mock.ts';
import { AnalyticsRecorder } from './analytics-proxy.ts';
import { sampleCustomers, sampleProducts } from './dataset.ts';
import { seedOf } from './faults.ts';
import {
  analyticsOps,
  type MockCall,
  type MockName,
  type MockWorkerData,
  type MockWorkerMessage,
  sourceOps,
} from './mock-ops.ts';
import { SourceMock } from './servers.ts';

// The mock APIs in a thread of their own (started by mock-host.ts), so that their work and the
// handlers' work do not wait on one event loop: a busy merge cannot delay an answer, and a busy
// mock cannot delay the merge reading one.
const port = parentPort;
if (!port) throw new Error('mock-worker.ts runs as a worker thread (see mock-host.ts)');
const data = workerData as MockWorkerData;
const send = (message: MockWorkerMessage) => port.postMessage(message);

const crm = await new SourceMock(
  SOURCES.crm.path,
  sampleCustomers(data.records),
  data.sourceFaults,
  seedOf(data.faultSeed, 'crm'),
).start();
const inventory = await new SourceMock(
  SOURCES.inventory.path,
  sampleProducts(data.records),
  data.sourceFaults,
  seedOf(data.faultSeed, 'inventory'),
).start();
const onReceive = data.streamReceipts
  ? (body: unknown) => send({ kind: 'received', body })
  : undefined;
// The recorder in front of a user's Analytics lives here too: it reads the target's answers and
// hands them back to the merge, so a busy merge must not delay it any more than the mock.
const analytics = data.analyticsTarget
  ? await new AnalyticsRecorder(data.analyticsTarget, onReceive).start()
  : await new AnalyticsMock(
      data.analyticsFaults,
      onReceive,
      seedOf(data.faultSeed, 'analytics'),
    ).start();
if (analytics instanceof AnalyticsMock) analytics.honourIdempotencyKey = data.honourIdempotencyKey;

const ops: Record<MockName, Record<string, (...args: never[]) => unknown>> = {
  crm: sourceOps(crm),
  inventory: sourceOps(inventory),
  analytics: analyticsOps(analytics),
};

port.on('message', (call: MockCall | 'stop') => {
  if (call === 'stop') {
    void Promise.all([crm.close(), inventory.close(), analytics.close()]).then(() => port.close());
    return;
  }
  const op = ops[call.mock][call.op];
  try {
    if (!op) throw new Error(`the ${call.mock} mock has no operation "${call.op}"`);
    send({ kind: 'result', id: call.id, value: op(...(call.args as never[])) });
  } catch (error) {
    send({ kind: 'error', id: call.id, message: (error as Error).message });
  }
});

send({ kind: 'ready', urls: { crm: crm.url, inventory: inventory.url, analytics: analytics.url } });
