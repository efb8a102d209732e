import { parseArgs } from 'node:util';
import { provideKafka } from '../local/environment.ts';
import { StyledSourceMock } from '../local/mocks/styled-source.ts';
import { table } from '../local/terminal.ts';
import { createKafka, KafkaPublisher } from '../shared/adapters/kafka.ts';
import { ensureTopics } from '../shared/adapters/kafka-topics.ts';
import { connectRedis } from '../shared/adapters/redis.ts';
import { RedisSyncState } from '../shared/adapters/redis-sync-state.ts';
import { createAuthenticator } from '../shared/adapters/source-auth.ts';
import { HttpSourceReader } from '../shared/adapters/source-reader.ts';
import { loadLocalConfig } from '../shared/config.ts';
import { parseSourceDefinitions } from '../shared/sources/definition.ts';
import { type FetchSummary, fetchSource } from '../shared/use-cases/fetch-source.ts';

/**
 * `npm run bench:incremental -- [--records N] [--changed R]`: a source of N records (default
 * 1,000,000), fetched in full, then R of them (default 0.1 %) changed and fetched incrementally,
 * then in full again, each published to real Kafka. Prints records read, published and seconds.
 */
const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    changed: { type: 'string', default: '0.001' },
  },
});
const count = Number(values.records);
const changed = Math.round(count * Number(values.changed));
const say = (line: string) => console.log(line);
const config = loadLocalConfig();
const kafka = await provideKafka(config.KAFKA_BROKERS, say);
const redis = await connectRedis({ url: config.REDIS_URL });
const run = `bench-inc-${Date.now()}.`;
const topic = `${run}records`;
const client = createKafka({ brokers: kafka.brokers.split(','), clientId: 'bench', auth: 'none' });
await ensureTopics(client, [{ topic, numPartitions: 6 }]);
const publisher = new KafkaPublisher(client, kafka.brokers.split(','));
// One change a second before the first run, so the overlap window re-reads about 60 of them.
const start = Date.parse('2024-01-01T00:00:00.000Z');
const records = Array.from({ length: count }, (_, i) => ({
  id: String(i + 1),
  name: `Customer ${i + 1}`,
  email: `c${i + 1}@example.com`,
  updatedAt: new Date(start + i * 1000).toISOString(),
}));
const later = new Date(start + (count + 3600) * 1000).toISOString();
const mock = await new StyledSourceMock({
  paging: 'offset',
  records,
  changeParam: 'updatedSince',
}).start();
const [source] = parseSourceDefinitions([
  {
    name: 'bench',
    side: 'customer',
    url: `${mock.url}/records`,
    required: ['name'],
    change: { path: 'updatedAt', param: 'updatedSince', overlap: 60 },
    pagination: { style: 'offset', size: 1000 },
  },
]);
if (!source) throw new Error('no definition');
const state = new RedisSyncState(redis, run);
const policy = { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 1000, timeoutMs: 30_000 };
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const fetchOnce = async (full: boolean) => {
  const served = mock.served;
  const summary: FetchSummary = await fetchSource({
    source,
    topic,
    endpoint: source.url ?? '',
    reader: new HttpSourceReader({
      source,
      policy,
      pageSize: 1000,
      auth: createAuthenticator('bench', source.auth, undefined, policy),
    }),
    publisher,
    quarantine: { quarantine: async () => {} },
    log: silent as never,
    correlationId: run,
    pageSize: 1000,
    maxPages: 1_000_000,
    maxRecordBytes: 100_000,
    state,
    full,
  });
  return { summary, read: mock.served - served };
};
const rows: (string | number)[][] = [];
const row = (name: string, r: Awaited<ReturnType<typeof fetchOnce>>) =>
  rows.push([
    name,
    r.summary.mode,
    r.read,
    r.summary.published,
    (r.summary.durationMs / 1000).toFixed(1),
  ]);
row('first run (no cursor yet)', await fetchOnce(false));
for (let i = 0; i < changed; i++) {
  const record = records[Math.floor((i * count) / changed)];
  if (record) record.updatedAt = later;
}
const incremental = await fetchOnce(false);
row(`incremental, ${changed} changed`, incremental);
const full = await fetchOnce(true);
row('full re-sync (--full)', full);
say(table(['run', 'mode', 'records read', 'published', 'seconds'], rows));
say(
  `incremental published ${(full.summary.published / Math.max(1, incremental.summary.published)).toFixed(0)}x fewer records than full, in ${(full.summary.durationMs / Math.max(1, incremental.summary.durationMs)).toFixed(0)}x less time`,
);
await publisher.disconnect();
const admin = client.admin();
await admin.connect();
await admin.deleteTopics({ topics: [topic] }).catch(() => {});
await admin.disconnect();
await redis.del(`${run}sync:{bench}:cursor`, `${run}sync:{bench}:checkpoint`);
redis.disconnect();
await mock.close();
await kafka.stop();
