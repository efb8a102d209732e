import { describe, expect, it } from 'vitest';
import {
  type BatchEvent,
  type BatchFormat,
  batchBody,
  batchContentType,
  eventJson,
  planRequests,
  readVerdicts,
  requestKey,
} from '../../shared/domain/analytics-batch.ts';

const format = (overrides: Partial<BatchFormat> = {}): BatchFormat => ({
  maxEvents: 100,
  maxBytes: 1_000,
  body: 'array',
  envelopeField: 'batch',
  eventIdField: 'eventId',
  ...overrides,
});
/** An event whose JSON is exactly `bytes` long. */
const anEvent = (id: string, bytes: number): BatchEvent<string> => {
  const json = JSON.stringify({ i: id, p: '' });
  return { item: id, id, json: JSON.stringify({ i: id, p: 'x'.repeat(bytes - json.length) }) };
};
const sizes = (plan: { requests: BatchEvent<string>[][] }) =>
  plan.requests.map((request) => request.map((event) => event.item));

describe('batch requests, exactly at their limits', () => {
  it('fills a request up to maxBytes of body, brackets and separators counted, not one byte over', () => {
    // Array body: 2 bytes of brackets, each event its JSON plus 1 separator.
    const fits = planRequests([anEvent('a', 48), anEvent('b', 49)], format({ maxBytes: 101 }));
    expect(sizes(fits)).toEqual([['a', 'b']]);
    expect(Buffer.byteLength(batchBody(fits.requests[0] ?? [], format()))).toBeLessThanOrEqual(101);
    const over = planRequests([anEvent('a', 48), anEvent('b', 50)], format({ maxBytes: 101 }));
    expect(sizes(over)).toEqual([['a'], ['b']]);
  });

  it('sets apart only an event that cannot fit alone, at the exact limit of an envelope body', () => {
    // Envelope `{"batch":[…]}`: the field name plus 6 bytes around the events.
    const envelope = format({ body: 'envelope', maxBytes: 111 });
    const alone = planRequests([anEvent('a', 99)], envelope);
    expect(alone.oversized).toEqual([]);
    expect(Buffer.byteLength(batchBody(alone.requests[0] ?? [], envelope))).toBeLessThanOrEqual(
      111,
    );
    expect(planRequests([anEvent('a', 100)], envelope).oversized.map((e) => e.item)).toEqual(['a']);
    expect(planRequests([anEvent('a', 100)], format({ maxBytes: 103 })).oversized).toEqual([]);
  });

  it('sends no empty request when nothing fits', () => {
    expect(planRequests([anEvent('a', 500)], format({ maxBytes: 100 })).requests).toEqual([]);
    expect(planRequests([], format()).requests).toEqual([]);
  });

  it('names the content type of each body shape and puts the id in the declared field', () => {
    expect(batchContentType(format({ body: 'ndjson' }))).toBe('application/x-ndjson');
    expect(batchContentType(format({ body: 'array' }))).toBe('application/json');
    expect(batchContentType(format({ body: 'envelope' }))).toBe('application/json');
    expect(JSON.parse(eventJson({ id: '1', a: 2 }, 'h1', format()))).toEqual({
      id: '1',
      a: 2,
      eventId: 'h1',
    });
  });

  it('keys a request by its ids in order, separated so that a split cannot collide', () => {
    expect(requestKey(['ab', 'c'])).not.toBe(requestKey(['a', 'bc']));
    expect(requestKey(['a', 'b'])).toBe(requestKey(['a', 'b']));
  });
});

describe('the verdicts of a batch answer', () => {
  it('reads a per-event status list only from a 2xx, and 300 is not a 2xx', () => {
    const body = JSON.stringify({ results: [{ status: 200 }, { status: 422, error: 'bad' }] });
    expect(readVerdicts(299, body, 2)).toEqual([
      { accepted: true },
      { accepted: false, reason: 'bad' },
    ]);
    expect(readVerdicts(300, body, 2)).toEqual([
      { accepted: false, reason: `HTTP 300 ${body}` },
      { accepted: false, reason: `HTTP 300 ${body}` },
    ]);
    expect(readVerdicts(199, '', 1)).toEqual([{ accepted: false, reason: 'HTTP 199' }]);
  });

  it('reads each entry status: numbers outside 2xx, "rejected" and "error" refuse; others accept', () => {
    const entries = [
      { status: 199 },
      { status: 200 },
      { status: 299 },
      { status: 300, reason: 'moved' },
      { status: 'rejected' },
      { status: 'error', error: 'boom' },
      { status: 'ok' },
      null,
    ];
    expect(readVerdicts(200, JSON.stringify(entries), entries.length)).toEqual([
      { accepted: false, reason: 'event status 199' },
      { accepted: true },
      { accepted: true },
      { accepted: false, reason: 'moved' },
      { accepted: false, reason: 'event status rejected' },
      { accepted: false, reason: 'boom' },
      { accepted: true },
      { accepted: true },
    ]);
  });

  it('takes named rejections from a 2xx or a 400 only', () => {
    const body = JSON.stringify({ errors: [{ index: 1, message: 'no' }, { index: 0 }] });
    expect(readVerdicts(400, body, 3)).toEqual([
      { accepted: false, reason: 'rejected by the sink' },
      { accepted: false, reason: 'no' },
      { accepted: true },
    ]);
    expect(readVerdicts(422, body, 2)).toEqual([
      { accepted: false, reason: `HTTP 422 ${body}` },
      { accepted: false, reason: `HTTP 422 ${body}` },
    ]);
    expect(readVerdicts(200, JSON.stringify({ rejected: [] }), 2)).toEqual([
      { accepted: true },
      { accepted: true },
    ]);
    expect(readVerdicts(200, JSON.stringify([{ status: 400 }]), 1)).toEqual([
      { accepted: false, reason: 'event status 400' },
    ]);
  });

  it('reads a 2xx partial success in each list form: the named events rejected, the others accepted', () => {
    const forms = [
      { rejected: [{ index: 2, reason: 'bad time' }] },
      { errors: [{ index: 2, error: 'bad time' }] },
      { failed_records: [{ index: 2, message: 'bad time' }] },
    ];
    for (const body of forms) {
      for (const status of [200, 202, 299]) {
        expect(readVerdicts(status, JSON.stringify(body), 3)).toEqual([
          { accepted: true },
          { accepted: true },
          { accepted: false, reason: 'bad time' },
        ]);
      }
    }
  });

  it("reads Mixpanel's partial success: a 400 whose failed_records name the rejected events", () => {
    const body = JSON.stringify({
      code: 400,
      failed_records: [{ index: 1, $insert_id: 'b', field: 'time', message: 'too old' }],
      num_records_imported: 2,
      status: 'Bad Request',
    });
    expect(readVerdicts(400, body, 3)).toEqual([
      { accepted: true },
      { accepted: false, reason: 'too old' },
      { accepted: true },
    ]);
  });

  it('rejects every event of an answer it cannot match to the events, never counting them delivered', () => {
    const unreadable = (body: unknown, count: number, why: string) => {
      const text = JSON.stringify(body);
      for (const status of [200, 400]) {
        const reason = `HTTP ${status} ${text} (${why})`;
        expect(readVerdicts(status, text, count)).toEqual(
          Array.from({ length: count }, () => ({ accepted: false, reason })),
        );
      }
    };
    unreadable(
      { rejected: [{ index: 0.5, reason: 'x' }] },
      2,
      'unreadable rejections: entry 0 names no event of the 2 sent (index 0.5)',
    );
    unreadable(
      { rejected: [{ index: '0' }] },
      1,
      'unreadable rejections: entry 0 names no event of the 1 sent (index "0")',
    );
    unreadable(
      { errors: [{ index: 0 }, { index: 2 }] },
      2,
      'unreadable rejections: entry 1 names no event of the 2 sent (index 2)',
    );
    unreadable(
      { errors: [{ index: -1 }] },
      2,
      'unreadable rejections: entry 0 names no event of the 2 sent (index -1)',
    );
    unreadable(
      { errors: [{ message: 'quota' }] },
      1,
      'unreadable rejections: entry 0 names no event of the 1 sent (index undefined)',
    );
    unreadable(
      { errors: ['quota exceeded'] },
      1,
      'unreadable rejections: entry 0 names no event of the 1 sent (index undefined)',
    );
    const short = JSON.stringify({ results: [{ status: 200 }] });
    expect(readVerdicts(200, short, 2)).toEqual([
      { accepted: false, reason: `HTTP 200 ${short} (1 results for 2 events)` },
      { accepted: false, reason: `HTTP 200 ${short} (1 results for 2 events)` },
    ]);
    expect(readVerdicts(201, '[]', 1)).toEqual([
      { accepted: false, reason: 'HTTP 201 [] (0 results for 1 events)' },
    ]);
  });

  it('reads a JSON null body as any other answer without a list', () => {
    expect(readVerdicts(200, 'null', 2)).toEqual([{ accepted: true }, { accepted: true }]);
    expect(readVerdicts(400, 'null', 1)).toEqual([{ accepted: false, reason: 'HTTP 400 null' }]);
  });

  it('rejects every event of a 400 that names no rejected one', () => {
    const body = JSON.stringify({ errors: [] });
    expect(readVerdicts(400, body, 2)).toEqual([
      { accepted: false, reason: `HTTP 400 ${body}` },
      { accepted: false, reason: `HTTP 400 ${body}` },
    ]);
  });

  it('keeps the first 200 characters of a refusal body, trimmed', () => {
    const long = `${'y'.repeat(250)}`;
    expect(readVerdicts(403, long, 1)).toEqual([
      { accepted: false, reason: `HTTP 403 ${'y'.repeat(200)}` },
    ]);
    expect(readVerdicts(403, 'not json', 1)).toEqual([
      { accepted: false, reason: 'HTTP 403 not json' },
    ]);
  });
});
