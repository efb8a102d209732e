import { afterEach, describe, expect, it } from 'vitest';
import type { MergeResult } from '../../functions/merge/handler.ts';
import { type LocalDeployment, startLocalDeployment } from '../../local/deployment.ts';
import { encodeMskEvent } from '../../local/msk-event.ts';
import { aCustomer, aProduct, testServices, uniquePrefix } from '../support/factories.ts';
import { produceRaw, readTopic } from '../support/kafka.ts';

let pipeline: LocalDeployment | undefined;

afterEach(async () => {
  await pipeline?.stop();
  await pipeline?.deleteState();
  pipeline = undefined;
});

const directEvent = (topic: string, values: { id: string }[]) =>
  encodeMskEvent(
    values.map((value, offset) => ({
      topic,
      partition: 0,
      offset: String(offset),
      timestamp: Date.now(),
      key: value.id,
      value: JSON.stringify(value),
      headers: { 'fetched-at': new Date().toISOString() },
    })),
    { eventSourceArn: 'arn:aws:kafka:local:0:cluster/test', bootstrapServers: 'test' },
  );

describe('a partial batch response on real Kafka and Redis', () => {
  it('reports the record another invocation holds, is retried from its offset, and delivers every payload once', async () => {
    const { brokers, redisUrl } = testServices();
    const prefix = uniquePrefix('partial');
    const answers: MergeResult[] = [];
    pipeline = await startLocalDeployment({
      brokers,
      redisUrl,
      topicPrefix: prefix,
      redisKeyPrefix: prefix,
      records: 1,
      partitions: 1,
      batchSize: 50,
      // Every POST takes longer than an invocation waits for a payload another one holds (5 s).
      analyticsFaults: { latencyMs: 12_000 },
      settings: {
        LOG_LEVEL: 'SILENT',
        METRICS: 'off',
        HTTP_TIMEOUT_MS: '30000',
      },
      interceptMerge: (merge) => async (event) => {
        const answer = await merge(event);
        answers.push(answer);
        return answer;
      },
    });
    const p = pipeline;
    const ids = Array.from({ length: 10 }, (_, i) => `held-${i}`);
    // The products first (nothing to deliver yet), straight to the handler.
    await p.merge(
      directEvent(
        p.topics.inventory,
        ids.map((id) => aProduct(id)),
      ),
    );

    // Invocation A takes held-3 and is slow to deliver it...
    const first = p.merge(directEvent(p.topics.customer, [aCustomer('held-3')]));
    await new Promise((resolve) => setTimeout(resolve, 500));
    // ...while the mapping hands invocation B the ten customers, held-3 among them.
    await produceRaw(
      p.kafka,
      p.topics.customer,
      ids.map((id) => ({
        key: id,
        value: JSON.stringify(aCustomer(id)),
        headers: { 'fetched-at': new Date().toISOString() },
      })),
    );
    expect(await first).toMatchObject({ posted: 1, batchItemFailures: [] });
    await p.drain(90_000);

    // B finished the nine others and reported held-3's record; the emulated mapping retried
    // the partition from that offset, and the retry found it delivered.
    const partial = answers.find((answer) => answer.batchItemFailures.length > 0);
    const published = await readTopic(p.kafka, p.topics.customer, ids.length);
    const held = published.find((message) => message.key === 'held-3');
    expect(partial?.batchItemFailures).toEqual([
      { itemIdentifier: { partition: `${p.topics.customer}-0`, offset: Number(held?.offset) } },
    ]);
    expect(partial).toMatchObject({ held: 1, posted: 9 });
    const retried = answers.at(-1);
    expect(retried).toMatchObject({
      records: ids.length - 3,
      posted: 0,
      batchItemFailures: [],
    });
    const counts = new Map<string, number>();
    for (const { id } of await p.analytics.receipts()) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const id of ids) expect(counts.get(id), `deliveries of ${id}`).toBe(1);
  }, 120_000);
});
