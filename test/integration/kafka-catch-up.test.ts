import type { Kafka } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../shared/adapters/kafka.ts';
import { catchUpToEnd, type StoredRecord } from '../../shared/adapters/kafka-catch-up.ts';
import { ensureTopics } from '../../shared/adapters/kafka-topics.ts';
import { testServices, uniquePrefix } from '../support/factories.ts';
import { produceRaw } from '../support/kafka.ts';

/*
 * The adapter under the dead-letter replay and the failed-batch re-drive, on a real broker:
 * it reads to the end the topic had, commits only where the caller says, and a second run
 * starts from the committed offset.
 */

let kafka: Kafka;

beforeAll(() => {
  kafka = createKafka({
    brokers: testServices().brokers.split(','),
    clientId: 'catch-up-test',
    auth: 'none',
  });
});

async function topicWith(values: string[]): Promise<{ topic: string; groupId: string }> {
  const prefix = uniquePrefix('catch-up');
  const topic = `${prefix}letters`;
  await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
  await produceRaw(
    kafka,
    topic,
    values.map((value) => ({ key: value, value, headers: { source: 'test' } })),
  );
  return { topic, groupId: `${prefix}group` };
}

describe('catchUpToEnd', () => {
  it('hands over every record in chunks, as text, and a second run finds nothing left', async () => {
    const { topic, groupId } = await topicWith(['a', 'b', 'c', 'd', 'e']);
    const chunks: StoredRecord[][] = [];
    const run = () =>
      catchUpToEnd(kafka, {
        topics: [topic],
        groupId,
        chunkSize: 2,
        timeoutMs: 30_000,
        what: 'test run',
        onChunk: async (records) => {
          chunks.push(records);
          return { commit: BigInt(records.at(-1)?.offset ?? '0') + 1n };
        },
      });
    await run();
    expect(chunks.map((chunk) => chunk.map((record) => record.value))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
    ]);
    expect(chunks[0]?.[0]).toMatchObject({
      topic,
      partition: 0,
      offset: '0',
      key: 'a',
      headers: { source: 'test' },
    });
    await run();
    expect(chunks).toHaveLength(3);
  });

  it('stops a partition where the caller says, and the next run starts there', async () => {
    const { topic, groupId } = await topicWith(['a', 'b', 'c', 'd']);
    const seen: string[] = [];
    const stopAtC = () =>
      catchUpToEnd(kafka, {
        topics: [topic],
        groupId,
        timeoutMs: 30_000,
        what: 'test run',
        onChunk: async (records) => {
          for (const record of records) seen.push(record.value ?? '');
          const refused = records.find((record) => record.value === 'c');
          return refused
            ? { commit: BigInt(refused.offset), stop: true }
            : { commit: BigInt(records.at(-1)?.offset ?? '0') + 1n };
        },
      });
    await stopAtC();
    expect(seen.slice(0, 3)).toEqual(['a', 'b', 'c']);
    seen.length = 0;
    await stopAtC();
    expect(seen[0]).toBe('c');
  });

  it('tells the pending ranges first, and rejects with the error the caller threw', async () => {
    const { topic, groupId } = await topicWith(['a', 'b']);
    let pending = 0;
    await expect(
      catchUpToEnd(kafka, {
        topics: [topic],
        groupId,
        timeoutMs: 30_000,
        what: 'test run',
        onPending: (ranges) => {
          for (const { start, end } of ranges.values()) pending += Number(end - start);
        },
        onChunk: async () => {
          throw new Error('redis is down');
        },
      }),
    ).rejects.toThrow('redis is down');
    expect(pending).toBe(2);
  });
});
