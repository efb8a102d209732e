import { describe, expect, it } from 'vitest';
import {
  type BatchFormat,
  batchBody,
  eventJson,
  planRequests,
  readVerdicts,
  requestKey,
} from '../../shared/domain/analytics-batch.ts';
import { canonicalJson, payloadIdentity } from '../../shared/domain/merge.ts';

const FORMAT: BatchFormat = {
  maxEvents: 3,
  maxBytes: 1_000,
  body: 'array',
  envelopeField: 'batch',
  eventIdField: 'eventId',
};
const anEvent = (id: string, bytes = 10) => ({ item: id, id, json: `"${'x'.repeat(bytes - 2)}"` });

describe('batch requests', () => {
  it('splits by count, keeping order', () => {
    const { requests } = planRequests(
      ['1', '2', '3', '4'].map((id) => anEvent(id)),
      FORMAT,
    );
    expect(requests.map((request) => request.map((event) => event.id))).toEqual([
      ['1', '2', '3'],
      ['4'],
    ]);
  });

  it('splits by bytes so no body is over the limit, and sets apart an event too big alone', () => {
    const events = [anEvent('1', 400), anEvent('2', 400), anEvent('big', 1_200), anEvent('3', 400)];
    const { requests, oversized } = planRequests(events, FORMAT);
    expect(oversized.map((event) => event.id)).toEqual(['big']);
    for (const request of requests) {
      expect(Buffer.byteLength(batchBody(request, FORMAT))).toBeLessThanOrEqual(FORMAT.maxBytes);
    }
    expect(requests.flat().map((event) => event.id)).toEqual(['1', '2', '3']);
  });

  it('writes the three body shapes', () => {
    const events = [{ json: '{"a":1}' }, { json: '{"a":2}' }];
    expect(batchBody(events, FORMAT)).toBe('[{"a":1},{"a":2}]');
    expect(batchBody(events, { ...FORMAT, body: 'ndjson' })).toBe('{"a":1}\n{"a":2}\n');
    expect(JSON.parse(batchBody(events, { ...FORMAT, body: 'envelope' }))).toEqual({
      batch: [{ a: 1 }, { a: 2 }],
    });
  });

  it('derives the request key from its events ids, in order', () => {
    expect(requestKey(['a', 'b'])).toBe(requestKey(['a', 'b']));
    expect(requestKey(['a', 'b'])).not.toBe(requestKey(['b', 'a']));
  });
});

describe('event JSON', () => {
  const payload = { id: '7', customer: { name: 'Ada', id: '7' }, inventory: null };

  it('puts the id in front of the canonical JSON, the same event as serialising the payload again', () => {
    const { hash, canonical } = payloadIdentity(payload);
    const reused = eventJson(payload, hash, FORMAT, canonical);
    expect(reused.startsWith(`{"eventId":"${hash}",`)).toBe(true);
    expect(JSON.parse(reused)).toEqual(JSON.parse(eventJson(payload, hash, FORMAT)));
    expect(eventJson({}, hash, FORMAT, canonicalJson({}))).toBe(`{"eventId":"${hash}"}`);
  });

  it('overwrites a payload field named like the id field instead of writing it twice', () => {
    const clashing = { ...payload, eventId: 'from the source' };
    const json = eventJson(clashing, 'h', FORMAT, canonicalJson(clashing));
    expect(json.match(/"eventId"/g)).toHaveLength(1);
    expect(JSON.parse(json)).toMatchObject({ eventId: 'h', id: '7' });
  });
});

describe('per-event verdicts', () => {
  it('reads a per-index status list in a 2xx', () => {
    const body = JSON.stringify({
      results: [{ status: 200 }, { status: 400, error: 'bad email' }],
    });
    expect(readVerdicts(200, body, 2)).toEqual([
      { accepted: true },
      { accepted: false, reason: 'bad email' },
    ]);
  });

  it('reads a 400 naming the rejected indexes as a partial success', () => {
    const body = JSON.stringify({ rejected: [{ index: 1, reason: 'too big' }] });
    expect(readVerdicts(400, body, 3)).toEqual([
      { accepted: true },
      { accepted: false, reason: 'too big' },
      { accepted: true },
    ]);
  });

  it('accepts every event of a plain 2xx and rejects every event of another 4xx', () => {
    expect(readVerdicts(202, '', 2)).toEqual([{ accepted: true }, { accepted: true }]);
    expect(readVerdicts(401, 'no token', 1)).toEqual([
      { accepted: false, reason: 'HTTP 401 no token' },
    ]);
  });
});
