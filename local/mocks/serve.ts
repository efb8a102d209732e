import { parseArgs } from 'node:util';
import { SOURCES } from '../../shared/sources/registry.ts';
import { AnalyticsMock } from './analytics-mock.ts';
import { sampleCustomers, sampleProducts } from './dataset.ts';
import { javaMapString, SourceMock } from './servers.ts';

export type MockServersOptions = {
  host: string;
  /** CRM listens here, Inventory on the next port, Analytics on the one after; 0 picks free ports. */
  basePort: number;
  records: number;
};

/**
 * The three mock APIs on their own, for a deployed stack to call: the LocalStack compose file runs
 * this in a container. Returns their URLs and a stop function.
 */
export async function startMockServers(
  options: MockServersOptions,
  print: (line: string) => void = console.log,
) {
  const port = (offset: number) => (options.basePort === 0 ? 0 : options.basePort + offset);
  const crm = await new SourceMock(SOURCES.crm.path, sampleCustomers(options.records)).start(
    port(0),
    options.host,
  );
  const inventory = await new SourceMock(
    SOURCES.inventory.path,
    sampleProducts(options.records),
  ).start(port(1), options.host);
  const analytics = await new AnalyticsMock({}, (payload) =>
    print(`Analytics received: ${javaMapString(payload)}`),
  ).start(port(2), options.host);
  return {
    urls: { crm: crm.url, inventory: inventory.url, analytics: analytics.url },
    analytics,
    stop: () => Promise.all([crm.close(), inventory.close(), analytics.close()]),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      'base-port': { type: 'string', default: '4010' },
      records: { type: 'string', default: '100' },
    },
  });
  const basePort = Number(values['base-port']);
  const records = Number(values.records);
  if (!Number.isInteger(basePort) || basePort < 0 || basePort > 65_533) {
    console.error(`--base-port must be a port number, got ${values['base-port']}`);
    process.exit(2);
  }
  if (!Number.isInteger(records) || records < 1) {
    console.error(`--records must be a whole number above 0, got ${values.records}`);
    process.exit(2);
  }
  const servers = await startMockServers({ host: values.host, basePort, records });
  console.log(
    `mock APIs on ${values.host}: CRM :${basePort}${SOURCES.crm.path}, Inventory :${basePort + 1}${SOURCES.inventory.path}, Analytics :${basePort + 2}/analytics`,
  );
  const stop = () => void servers.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
