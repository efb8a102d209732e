import type { MSKEvent, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { batchItemFailuresOf } from '../../functions/merge/handler.ts';
import { createReplayHandler } from '../../functions/replay/handler.ts';
import { retryFrom } from '../../local/esm-emulator.ts';
import { createMskReader, recordSchemaOf } from '../../shared/adapters/msk-records.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import type { DecodedRecord } from '../../shared/domain/kafka-record.ts';
import { buildMergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import type { Log } from '../../shared/logger.ts';
import { sourceForTopic } from '../../shared/sources/registry.ts';
import { AWS_FIXTURES, loadEvent } from '../events/fixtures.ts';
import { aCustomer, aProduct } from '../support/factories.ts';
import { MemoryAnalytics, MemoryCache, memoryLog } from '../support/in-memory.ts';

/**
 * The code's parsers fed AWS's own examples, each copied from the page test/events/SOURCES.md
 * names (and test/events/fixtures.ts repeats beside each file name).
 */
const reader = createMskReader({
  schemaFor: (topic) => {
    const source = sourceForTopic(topic);
    return source && recordSchemaOf(source);
  },
  maxRecordBytes: 100_000,
});

describe('the MSK event of https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html (Example event)', () => {
  it("is read by the merge's edge: base64 value and key decoded, byte-array header as text", async () => {
    const event = loadEvent<MSKEvent>(AWS_FIXTURES.mskEvent);
    const [record, ...rest] = await reader(event);
    expect(rest).toEqual([]);
    expect(record).toMatchObject({
      topic: 'mytopic',
      partition: 0,
      offset: '15',
      timestamp: 1545084650987,
      value: 'Hello, this is a test.',
      headers: { headerKey: 'headerValue' },
    });
    // The example's key is arbitrary bytes, read as UTF-8 text as any key is.
    expect(record?.key).toBe(
      Buffer.from('abcDEFghiJKLmnoPQRstuVWXyz1234==', 'base64').toString('utf8'),
    );
    // "mytopic" is no source topic: its value is left for the merge to check (and quarantine).
    expect(record).not.toHaveProperty('checked');
  });

  it('has the fields our own fixture (test/events/msk-event.json) has, at both levels', () => {
    const doc = loadEvent<MSKEvent>(AWS_FIXTURES.mskEvent);
    const ours = loadEvent<MSKEvent>('msk-event.json');
    expect(Object.keys(ours).sort()).toEqual(Object.keys(doc).sort());
    const fieldsOf = (event: MSKEvent) =>
      new Set(
        Object.values(event.records)
          .flat()
          .flatMap((record) => Object.keys(record)),
      );
    expect([...fieldsOf(ours)].sort()).toEqual([...fieldsOf(doc)].sort());
  });
});

describe('the partial batch response of https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html', () => {
  type Response = {
    batchItemFailures: { itemIdentifier: { partition: string; offset: number } }[];
  };
  const record = (topic: string, partition: number, offset: string): DecodedRecord => ({
    topic,
    partition,
    offset,
    timestamp: 0,
    key: null,
    value: null,
    headers: {},
  });

  it('is the shape the merge returns: "<topic>-<partition>" and a numeric offset', () => {
    const doc = loadEvent<Response>(AWS_FIXTURES.kafkaPartialBatchResponse);
    const ours = batchItemFailuresOf([
      { topic: 'customer_data', partition: 3, offset: '100', hash: 'h' },
    ]);
    const shapeOf = (response: Response) =>
      response.batchItemFailures.map(({ itemIdentifier }) =>
        Object.fromEntries(
          Object.entries(itemIdentifier).map(([key, value]) => [key, typeof value]),
        ),
      );
    expect(shapeOf(ours)).toEqual(shapeOf(doc));
    expect(ours.batchItemFailures[0]?.itemIdentifier).toEqual({
      partition: 'customer_data-3',
      offset: 100,
    });
  });

  it('is read by the emulated mapping as Lambda reads it: retried from the failed record', () => {
    const doc = loadEvent<Response>(AWS_FIXTURES.kafkaPartialBatchResponse);
    // The page's placeholder "topic-partition_number", for a batch of topic "topic", partition 0.
    const [failure] = doc.batchItemFailures;
    if (failure) failure.itemIdentifier.partition = 'topic-0';
    const batch = ['99', '100', '101'].map((offset) => record('topic', 0, offset));
    expect(retryFrom(doc, batch)).toBe(1);
    // "Any invalid topic-partition_number or offset ... entire batch will be retried."
    expect(retryFrom(loadEvent(AWS_FIXTURES.kafkaPartialBatchResponse), batch)).toBe('invalid');
  });
});

describe('the SQS event of https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (Example standard queue message event)', () => {
  function replay() {
    const analytics = new MemoryAnalytics();
    const delivery = new IdempotentDelivery({
      cache: new MemoryCache(),
      analytics,
      ttlSeconds: 60,
      keyPrefix: 'sqs:',
    });
    const handler = createReplayHandler(async () => ({
      delivery,
      log: memoryLog() as unknown as Log,
    }));
    return { analytics, handler };
  }

  it('is read by the replay function: bodies that are not letters stay in the queue, by their messageId', async () => {
    const { analytics, handler } = replay();
    const response = await handler(loadEvent<SQSEvent>(AWS_FIXTURES.sqsEvent));
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: '059f36b4-87a3-44ab-83d2-661975830a7d' },
      { itemIdentifier: '2e1424d4-f796-459a-8184-9c92662be6da' },
    ]);
    expect(analytics.received).toEqual([]);
  });

  it('delivers the letters its records carry, each once', async () => {
    const { analytics, handler } = replay();
    const event = loadEvent<SQSEvent>(AWS_FIXTURES.sqsEvent);
    for (const [index, record] of event.Records.entries()) {
      const payload = buildMergedPayload(String(index + 1), {
        customer: aCustomer(String(index + 1)),
        inventory: aProduct(String(index + 1)),
      });
      record.body = JSON.stringify({
        payload,
        reason: 'HTTP 503',
        attempts: 5,
        hash: payload && payloadHash(payload),
      });
    }
    const response = await handler(event);
    expect(response.batchItemFailures).toEqual([]);
    expect(analytics.received.map((payload) => payload.id).sort()).toEqual(['1', '2']);
    await handler(event);
    expect(analytics.received).toHaveLength(2);
  });
});
