import { createHash, randomUUID } from 'node:crypto';
import { AnalyticsMock } from '../local/mocks/analytics-mock.ts';
import { sampleCustomers, sampleProducts } from '../local/mocks/dataset.ts';
import { sendHttp } from '../shared/adapters/http-client.ts';
import { IoRedisCacheClient } from '../shared/adapters/idempotency-cache.ts';
import { IdempotentDelivery } from '../shared/adapters/once-delivery.ts';
import { connectRedis } from '../shared/adapters/redis.ts';
import { mapWithConcurrency } from '../shared/concurrency.ts';
import { buildMergedPayload, type MergedPayload, payloadHash } from '../shared/domain/merge.ts';
import type { Customer, Product } from '../shared/domain/records.ts';
import type { Env } from './stages.ts';

const rate = (records: number, started: number) => {
  const seconds = (performance.now() - started) / 1000;
  return { records, seconds, perSecond: records / seconds };
};

/**
 * What the original consumer did, per record and in order: read the other side of the join, write
 * this side, hash the pair, look the hash up, POST, remember the hash. One Redis round trip per
 * step, one POST per payload, nothing concurrent.
 */
export async function naiveMerge(env: Env, size: number) {
  const redis = await connectRedis({ url: env.redisUrl });
  redis.options.enableAutoPipelining = false;
  const analytics = await new AnalyticsMock().start();
  const prefix = `bench-naive-${randomUUID().slice(0, 6)}:`;
  try {
    for (const product of sampleProducts(size, false)) {
      await redis.set(`${prefix}inventory:${product.id}`, JSON.stringify(product));
    }
    const customers = sampleCustomers(size, false).map((c) => JSON.stringify(c));
    const started = performance.now();
    for (const raw of customers) {
      const customer = JSON.parse(raw) as { id: string };
      const product = await redis.get(`${prefix}inventory:${customer.id}`);
      await redis.set(`${prefix}customer:${customer.id}`, raw);
      if (product === null) continue;
      const body = JSON.stringify({ id: customer.id, customer, inventory: JSON.parse(product) });
      const hash = createHash('sha256').update(body).digest('hex');
      if ((await redis.get(`${prefix}seen:${hash}`)) !== null) continue;
      const response = await fetch(analytics.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      await response.arrayBuffer();
      await redis.set(`${prefix}seen:${hash}`, '1', 'EX', 86_400);
    }
    return rate(size, started);
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    redis.disconnect();
    await analytics.close();
  }
}

/**
 * The Redis part of the merge at the machine's limit: the same three writes per record (join side,
 * idempotency claim, completion) sent as pipelines of 1,000 records, no other work.
 */
export async function redisLimit(env: Env, size: number) {
  const redis = await connectRedis({ url: env.redisUrl });
  const prefix = `bench-redis-${randomUUID().slice(0, 6)}:`;
  const value = JSON.stringify(sampleCustomers(1, false)[0]);
  try {
    const started = performance.now();
    for (let from = 0; from < size; from += 1000) {
      const pipeline = redis.pipeline();
      for (let i = from; i < Math.min(size, from + 1000); i++) {
        pipeline.set(`${prefix}join:${i}`, value, 'EX', 600);
        pipeline.set(`${prefix}idem:${i}`, 'INPROGRESS', 'EX', 600, 'NX');
        pipeline.set(`${prefix}idem:${i}`, 'COMPLETED', 'EX', 600);
      }
      await pipeline.exec();
    }
    return rate(size, started);
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    redis.disconnect();
  }
}

/** Kafka at the machine's limit: kafkajs sends of 1,000 customer-sized messages, acks=all, idempotent. */
export async function kafkaLimit(env: Env, size: number) {
  const topic = `bench-kafka-${randomUUID().slice(0, 6)}`;
  const admin = env.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const producer = env.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = sampleCustomers(size, false).map((c) => ({
    key: String(c.id),
    value: JSON.stringify(c),
  }));
  try {
    await producer.send({ topic, acks: -1, messages: messages.slice(0, 10) });
    const started = performance.now();
    for (let from = 0; from < size; from += 1000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(from, from + 1000) });
    }
    return rate(size, started);
  } finally {
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
}

/**
 * Analytics at the machine's limit: keep-alive POSTs with the pipeline's HTTP client, 32 in
 * flight, and with Node's fetch for comparison (the client the first version used).
 */
export async function postLimit(size: number, client: 'http' | 'fetch') {
  const analytics = await new AnalyticsMock().start();
  const body = JSON.stringify({
    id: '1',
    customer: sampleCustomers(1, false)[0],
    inventory: sampleProducts(1, false)[0],
  });
  try {
    const started = performance.now();
    await mapWithConcurrency(
      Array.from({ length: size }, (_, i) => i),
      32,
      async () => {
        const headers = { 'content-type': 'application/json' };
        if (client === 'http') {
          await sendHttp(analytics.url, { method: 'POST', headers, body }, 5_000);
          return;
        }
        const response = await fetch(analytics.url, { method: 'POST', headers, body });
        await response.arrayBuffer();
      },
    );
    return rate(size, started);
  } finally {
    await analytics.close();
  }
}

/**
 * What the Analytics mock takes in batch requests, the way the merge's batch mode sends them
 * (500 events of a JSON array a request, each with its id, an Idempotency-Key, 32 in flight),
 * with the bodies built beforehand: the mock's own ceiling, which is not what we ship. The mock
 * runs in this process, as it does for the merge rows.
 */
export async function batchPostLimit(size: number, perRequest = 500) {
  const analytics = await new AnalyticsMock().start();
  const customer = sampleCustomers(1, false)[0];
  const inventory = sampleProducts(1, false)[0];
  const bodies: string[] = [];
  for (let from = 0; from < size; from += perRequest) {
    const events = [];
    for (let i = from; i < Math.min(size, from + perRequest); i++) {
      events.push({ id: String(i), customer, inventory, eventId: `event-${i}` });
    }
    bodies.push(JSON.stringify(events));
  }
  try {
    const started = performance.now();
    await mapWithConcurrency(bodies, 32, async (body, index) => {
      const headers = { 'content-type': 'application/json', 'idempotency-key': `request-${index}` };
      const answer = await sendHttp(analytics.url, { method: 'POST', headers, body }, 30_000);
      if (answer.status !== 200) throw new Error(`the mock answered ${answer.status}`);
    });
    const figure = rate(size, started);
    if (analytics.received.length !== size) {
      throw new Error(`the mock received ${analytics.received.length} of ${size} events`);
    }
    return figure;
  } finally {
    await analytics.close();
  }
}

/**
 * The idempotency step alone, as the merge runs it (Powertools over Redis, 32 at a time) with an
 * Analytics that takes no time: the ceiling this library puts on the merge stage.
 */
export async function idempotencyLimit(env: Env, size: number) {
  const redis = await connectRedis({ url: env.redisUrl });
  const prefix = `bench-idem-${randomUUID().slice(0, 6)}:`;
  const products = sampleProducts(size, false) as Product[];
  const payloads = (sampleCustomers(size, false) as Customer[]).flatMap((customer, index) => {
    const inventory = products[index];
    const payload = inventory && buildMergedPayload(customer.id, { customer, inventory });
    return payload ? [payload] : [];
  });
  const delivery = new IdempotentDelivery({
    cache: new IoRedisCacheClient(redis),
    analytics: { post: async () => ({ attempts: 1 }) },
    ttlSeconds: 600,
    keyPrefix: prefix,
  });
  delivery.registerInvocation({ getRemainingTimeInMillis: () => 300_000 });
  try {
    const deliver = (payload: MergedPayload) => delivery.deliver(payload, payloadHash(payload));
    await mapWithConcurrency(payloads.slice(0, 200), 32, deliver);
    const started = performance.now();
    await mapWithConcurrency(payloads.slice(200), 32, deliver);
    return rate(payloads.length - 200, started);
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    redis.disconnect();
  }
}
