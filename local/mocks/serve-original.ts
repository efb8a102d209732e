import { parseArgs } from 'node:util';
import { OriginalApiMock, originalCustomers, originalProducts } from './original-api.ts';

/**
 * `npm run mocks:original -- --port 8080 --records 100`: one independent server speaking the
 * original APIs exactly (GET /customers, GET /products as plain arrays with fields the pipeline
 * does not model; POST /analytics/data), for `npm run local -- --crm-url … --analytics-url …`.
 * Prints each payload it receives as a JSON line and, on Ctrl-C, how many it got per id.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    records: { type: 'string', default: '50' },
  },
});
const records = Number(values.records);
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
