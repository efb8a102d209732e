import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMskEvent } from '../../local/msk-event.ts';
import { createMskReader, recordSchemaOf } from '../../shared/adapters/msk-records.ts';
import { IdempotentDelivery } from '../../shared/adapters/once-delivery.ts';
import { checkRecord, type RecordRules } from '../../shared/domain/records.ts';
import type { Log } from '../../shared/logger.ts';
import { BUILT_IN_JOIN, SOURCES, sourceForTopic } from '../../shared/sources/registry.ts';
import { mergeBatch } from '../../shared/use-cases/merge-batch.ts';
import { publishPage } from '../../shared/use-cases/publish-page.ts';
import {
  MemoryAnalytics,
  MemoryCache,
  MemoryJoinStore,
  MemorySinks,
  memoryLog,
} from '../support/in-memory.ts';

const rules: RecordRules = {
  id: { path: 'id', numbers: 'reject' },
  required: [
    { path: 'name', type: 'string' },
    { path: 'stock', type: 'integer' },
  ],
  change: { path: 'meta.changed', kind: 'timestamp' },
};

describe('the record check', () => {
  it('passes a record through whole, extra fields and nesting included', () => {
    const raw = { id: '1', name: 'A', stock: 2, sku: 'X-1', meta: { changed: null, tags: ['a'] } };
    const checked = checkRecord(rules, raw);
    expect(checked).toEqual({ ok: true, id: '1', record: raw, change: null });
    expect(checked.ok && checked.record).toBe(raw);
  });

  it('names each failing field and keeps a usable id', () => {
    expect(checkRecord(rules, { id: '9', name: '', stock: 1.5 })).toEqual({
      ok: false,
      id: '9',
      reason: 'name: must not be empty; stock: must be an integer, got number 1.5',
    });
    expect(checkRecord(rules, { id: '9', name: 'A', stock: 1, meta: { changed: 'soon' } })).toEqual(
      {
        ok: false,
        id: '9',
        reason: 'meta.changed: must be an ISO-8601 timestamp, got "soon"',
      },
    );
  });

  it('refuses what is not an object, and a missing or empty id', () => {
    expect(checkRecord(rules, [1])).toMatchObject({ ok: false, reason: /not a JSON object/ });
    expect(checkRecord(rules, { name: 'A', stock: 1 })).toMatchObject({ ok: false });
    expect(checkRecord(rules, { id: '  ', name: 'A', stock: 1 })).toMatchObject({ ok: false });
  });

  it('refuses a numeric id when the definition declares id.numbers "reject"', () => {
    expect(checkRecord(rules, { id: 42, name: 'A', stock: 1 })).toMatchObject({
      ok: false,
      reason: /declares id.numbers "reject"/,
    });
    const declared = { ...rules, id: { path: 'data.id', numbers: 'string' as const } };
    const raw = { data: { id: 42 }, name: 'A', stock: 1 };
    expect(checkRecord(declared, raw)).toEqual({ ok: true, id: '42', record: raw, change: null });
  });

  it('reads the change value as milliseconds, or as a number', () => {
    const raw = { id: '1', name: 'A', stock: 1, meta: { changed: '2025-01-02T03:04:05Z' } };
    expect(checkRecord(rules, raw)).toMatchObject({ change: Date.parse('2025-01-02T03:04:05Z') });
    const numeric = { ...rules, change: { path: 'rev', kind: 'number' as const } };
    expect(checkRecord(numeric, { id: '1', name: 'A', stock: 1, rev: 7 })).toMatchObject({
      change: 7,
    });
  });
});

const key = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== '__proto__');
const extraFields = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 });

/** A record a source might send: the fields the definition needs, then anything at all. */
const aRecordWith = (required: Record<string, fc.Arbitrary<unknown>>) =>
  fc
    .tuple(fc.record(required), extraFields)
    .map(([needed, extra]) => ({ ...extra, ...needed }) as Record<string, unknown>);

describe('every field kept (property)', () => {
  it('random customers and products with random extra fields reach Analytics unchanged', async () => {
    const customer = aRecordWith({
      name: fc.string({ minLength: 1 }),
      email: fc.string({ minLength: 1 }),
    });
    const product = aRecordWith({ name: fc.string({ minLength: 1 }), stock: fc.integer() });
    await fc.assert(
      fc.asyncProperty(customer, product, async (c, p) => {
        // What the sources send is JSON text; what Analytics gets must be the same text.
        const text = {
          customer: JSON.stringify({ ...c, id: '1' }),
          inventory: JSON.stringify({ ...p, id: '1' }),
        };
        const sent = { customer: JSON.parse(text.customer), inventory: JSON.parse(text.inventory) };
        const sinks = new MemorySinks();
        const log = memoryLog() as unknown as Log;
        for (const name of ['crm', 'inventory'] as const) {
          const source = SOURCES[name];
          const record = name === 'crm' ? sent.customer : sent.inventory;
          const outcome = await publishPage([record], 1, new Date().toISOString(), null, {
            source,
            topic: source.topic,
            publisher: sinks,
            quarantine: sinks,
            log,
            correlationId: 'c',
            maxRecordBytes: 100_000,
          });
          expect(outcome.published).toBe(1);
        }
        const messages = [...sinks.published.entries()].flatMap(([topic, list]) =>
          list.map((message) => ({ topic, ...message })),
        );
        // Through the MSK event encoding both ways, as the merge function receives it.
        const event = encodeMskEvent(
          messages.map((message, offset) => ({
            topic: message.topic,
            partition: 0,
            offset: String(offset),
            timestamp: Date.now(),
            key: message.key,
            value: message.value,
            headers: message.headers ?? {},
          })),
          { eventSourceArn: 'arn:test', bootstrapServers: 'b:9092' },
        );
        const analytics = new MemoryAnalytics();
        const delivery = new IdempotentDelivery({
          cache: new MemoryCache(),
          analytics,
          ttlSeconds: 60,
          keyPrefix: 'p:',
          concurrency: 2,
        });
        delivery.registerInvocation({ getRemainingTimeInMillis: () => 60_000 });
        const read = createMskReader({
          schemaFor: (topic) => {
            const source = sourceForTopic(topic);
            return source && recordSchemaOf(source);
          },
          maxRecordBytes: 100_000,
        });
        await mergeBatch(await read(event), {
          joinStore: new MemoryJoinStore(),
          join: BUILT_IN_JOIN,
          delivery,
          deadLetter: sinks,
          quarantine: sinks,
          log,
          sourceForTopic: (topic) => sourceForTopic(topic),
          maxRecordBytes: 100_000,
        });
        expect(sinks.quarantined).toEqual([]);
        expect(analytics.received).toHaveLength(1);
        const [payload] = analytics.received;
        expect(payload?.id).toBe('1');
        expect(JSON.stringify(payload?.customer)).toBe(text.customer);
        expect(JSON.stringify(payload?.inventory)).toBe(text.inventory);
      }),
      { numRuns: 200, seed: 10 },
    );
  });
});
