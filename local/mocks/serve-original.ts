import { parseArgs } from 'node:util';
import { OriginalApiMock, originalCustomers, originalProducts } from './original-api.ts';

/**
 * `npm run mocks:original -- --port 8080 --records 100`: one independent server speaking the
 * original APIs exactly (GET /customers, GET /products as plain arrays with integer ids, `updatedAt: null` and fields the pipeline
 * does not model; POST /analytics/data), for `npm run local -- --crm-url … --analytics-url …`.
 * Prints each payload it receives as a JSON line and, on Ctrl-C, how many it got per id.
 */
const USAGE = `npm run mocks:original -- [--port N] [--host H] [--records N]

One server speaking the original APIs exactly: GET /customers and GET /products (plain JSON
arrays, integer ids, updatedAt null, fields the pipeline does not model), POST /analytics/data. Point npm run local at it with
--crm-url, --inventory-url and --analytics-url. Prints each payload received; Ctrl-C prints how
many it got per id.

  --port <n>      port to listen on (default 0: any free port)
  --host <h>      address to listen on (default 127.0.0.1)
  --records <n>   customers and products served (default 50)`;

function flags() {
  try {
    return parseArgs({
      options: {
        port: { type: 'string', default: '0' },
        host: { type: 'string', default: '127.0.0.1' },
        records: { type: 'string', default: '50' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}
const values = flags();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const records = Number(values.records);
if (!Number.isInteger(records) || records < 1) {
  console.error(`--records takes a whole number of at least 1, got "${values.records}"`);
  process.exit(2);
}
const server = await new OriginalApiMock(
  originalCustomers(records),
  originalProducts(records),
).start(Number(values.port), values.host);
console.log(
  `original APIs: GET ${server.url}/customers  GET ${server.url}/products  POST ${server.url}/analytics/data`,
);
const originalPush = server.received.push.bind(server.received);
server.received.push = (...items: unknown[]) => {
  for (const item of items) console.log(`received ${JSON.stringify(item)}`);
  return originalPush(...items);
};
process.once('SIGINT', () => {
  const ids = server.received.map((body) => String((body as { id?: unknown }).id));
  const repeated = ids.filter((id, index) => ids.indexOf(id) !== index);
  console.log(
    `received ${ids.length} payload(s), ${new Set(ids).size} distinct id(s), ${repeated.length} repeated`,
  );
  void server.close().then(() => process.exit(0));
});
