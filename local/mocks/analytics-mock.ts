import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FaultInjector, type FaultRates, type ScriptedFault } from './faults.ts';
import { closer, listen, type MockServer } from './servers.ts';

/** One payload the Analytics mock accepted (processed), with the headers it came with. */
export type Received = {
  id: string;
  /** The Idempotency-Key header, if any. */
  key: string | undefined;
  headers: Record<string, string>;
  body: unknown;
  at: number;
  /**
   * For an event of a batch request: the request's Idempotency-Key and every event id it held,
   * in order (rejected and de-duplicated events included). One object per request, shared by
   * its events.
   */
  request?: BatchRequestSeen;
};

/** A batch request as the mock read it. */
export type BatchRequestSeen = { key: string | undefined; eventIds: (string | undefined)[] };

/** What the Analytics mock saw, in counts. */
export type AnalyticsStats = {
  /** Every POST, faults and repeats included. */
  requests: number;
  /** Payloads processed (recorded). */
  received: number;
  /** Distinct Idempotency-Key values among the processed payloads. */
  distinctKeys: number;
  /**
   * Requests whose key had been processed before: answered with the first answer and not
   * processed again when the mock honours the key, processed again when it ignores it.
   */
  repeatedKeys: number;
  /**
   * Payloads that arrived again, counted one by one: a single POST whose key, or a batch event
   * whose id (or whose request's key), the mock had processed before, whether answered from the
   * first answer or processed again. The pipeline sends a payload again only after an ambiguous
   * failure or when its completed mark was lost.
   */
  repeatedPayloads: number;
  /** Requests answered with an injected fault before being processed. */
  rejected: number;
};

/** A fault a request met, and whether the client got an answer. */
export type FaultMet = {
  kind: ScriptedFault['kind'];
  /** The request's Idempotency-Key (a batch request's own key). */
  key: string | undefined;
  /** Payloads in the request: a batch request's events, 1 for a single POST. */
  payloads: number;
  /** The key had been processed before: the request was a retry or a re-send. */
  repeat: boolean;
  /**
   * No answer reached the client: the connection was dropped or held, or the client had hung up
   * before a late answer was ready. Undefined while a late answer is still held.
   */
  answerLost?: boolean;
};

type Answer = { status: number; body: string };

const ACCEPTED: Answer = { status: 200, body: '{"status":"accepted"}' };

/**
 * The Analytics API: POST /analytics with a JSON payload answers 200. It keeps what it received,
 * headers included (for checks), and calls `onReceive` for each, which the local runner uses to
 * print it.
 *
 * It honours `Idempotency-Key` the way payment and webhook APIs do: a request whose key was
 * processed before gets the first answer again and is not processed twice. With
 * `honourIdempotencyKey = false` it processes every request, as a sink that ignores the key would.
 */
export class AnalyticsMock implements MockServer {
  url = '';
  readonly received: Received[] = [];
  readonly faults: FaultInjector;
  honourIdempotencyKey = true;
  requests = 0;
  rejected = 0;
  repeatedKeys = 0;
  repeatedPayloads = 0;
  /** The field batch events carry their id in (ANALYTICS_EVENT_ID_FIELD). */
  eventIdField = 'eventId';
  /** Payload ids whose events a batch request rejects (per-event, the rest accepted). */
  rejectIds = new Set<string>();
  /**
   * How rejections are answered: a per-index list in a 200 (`results`), a 400 naming the indexes
   * (`status-400`), or a 200 naming them in one of the lists readVerdicts reads (`2xx-rejected`,
   * `2xx-errors`, `2xx-failed_records`: a partial success).
   */
  rejectForm: RejectForm = 'results';
  /** Batch requests received, and events in them. */
  batchRequests = 0;
  /** Every fault a request met (scripted or random, `down` included), in order. */
  readonly faultsMet: FaultMet[] = [];
  #answers = new Map<string, Answer>();
  #eventsSeen = new Set<string>();
  #server: Server;

  constructor(
    rates: Partial<FaultRates> = {},
    private readonly onReceive: (payload: unknown) => void = () => {},
    seed = 11,
  ) {
    this.faults = new FaultInjector(rates, seed);
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.keepAliveTimeout = 30_000;
  }

  async start(port?: number, host?: string): Promise<this> {
    this.url = `${await listen(this.#server, port, host)}/analytics`;
    return this;
  }

  close = () => closer(this.#server)();

  stats(): AnalyticsStats {
    return {
      requests: this.requests,
      received: this.received.length,
      distinctKeys: new Set(this.received.map((entry) => entry.key)).size,
      repeatedKeys: this.repeatedKeys,
      repeatedPayloads: this.repeatedPayloads,
      rejected: this.rejected,
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || !req.url?.startsWith('/analytics')) {
      res.writeHead(404).end();
      return;
    }
    this.requests++;
    await this.faults.delay();
    const fault = this.faults.next();
    const key = headerValue(req, 'idempotency-key');
    const first = key === undefined ? undefined : this.#answers.get(key);
    const text = Buffer.concat(chunks).toString('utf8');
    const events = batchEvents(text, headerValue(req, 'content-type') ?? '');
    const met: FaultMet | undefined = fault && {
      kind: fault.kind,
      key,
      payloads: events?.length ?? 1,
      repeat: first !== undefined,
    };
    if (met) this.faultsMet.push(met);
    // apply() answers every fault but the ones that follow processing (late answer, reset after).
    if (fault && this.faults.apply(fault, res)) {
      this.rejected++;
      if (met) met.answerLost = fault.kind !== 'status';
      return;
    }
    let answer: Answer;
    if (first && this.honourIdempotencyKey) {
      // Answered from the first answer, not processed again.
      this.repeatedKeys++;
      this.repeatedPayloads += events?.length ?? 1;
      answer = first;
    } else {
      if (first) {
        this.repeatedKeys++;
        // Processed again: a batch's events are counted one by one as they are.
        if (events === undefined) this.repeatedPayloads++;
      }
      answer = this.#process(req, text, key, events);
      if (key !== undefined && !first) this.#answers.set(key, answer);
    }
    // A fault that follows processing loses the answer of a repeat as well: it is the connection's.
    if (fault?.kind === 'reset-after-processing') {
      if (met) met.answerLost = true;
      res.socket?.destroy();
      return;
    }
    await this.faults.lateness(fault);
    // Read what came meanwhile first: a client that gave up has closed the connection.
    if (fault) await new Promise((resolve) => setImmediate(resolve));
    if (met) met.answerLost = res.destroyed;
    if (res.destroyed) return;
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  }

  /**
   * A batch: each event is processed unless its payload id is in `rejectIds`; when the mock
   * honours idempotency, an event whose id it processed before is acknowledged, not processed
   * again (as Segment's messageId or Mixpanel's $insert_id de-duplicate).
   */
  #processBatch(events: unknown[], headers: Record<string, string>): Answer {
    this.batchRequests++;
    const results: { status: number; error?: string }[] = [];
    const idOf = (event: unknown) => {
      const value = ((event ?? {}) as Record<string, unknown>)[this.eventIdField];
      return typeof value === 'string' ? value : undefined;
    };
    const request: BatchRequestSeen = {
      key: headers['idempotency-key'],
      eventIds: events.map(idOf),
    };
    for (const event of events) {
      const fields = (event ?? {}) as Record<string, unknown>;
      const id = String(fields.id ?? '');
      if (this.rejectIds.has(id)) {
        results.push({ status: 400, error: `id ${id} rejected by the mock` });
        continue;
      }
      const eventId = idOf(event);
      if (eventId !== undefined && this.#eventsSeen.has(eventId)) {
        this.repeatedKeys++;
        this.repeatedPayloads++;
        if (this.honourIdempotencyKey) {
          results.push({ status: 200 });
          continue;
        }
      }
      if (eventId !== undefined) this.#eventsSeen.add(eventId);
      this.received.push({ id, key: eventId, headers, body: event, at: Date.now(), request });
      this.onReceive(event);
      results.push({ status: 200 });
    }
    if (this.rejectForm === 'results') return { status: 200, body: JSON.stringify({ results }) };
    const refused = results.flatMap((result, index) =>
      result.status === 200 ? [] : [{ index, error: result.error ?? 'rejected' }],
    );
    if (this.rejectForm === 'status-400') {
      if (refused.length === 0) return { status: 200, body: JSON.stringify({ results }) };
      const rejected = refused.map(({ index, error }) => ({ index, reason: error }));
      return { status: 400, body: JSON.stringify({ rejected }) };
    }
    return { status: 200, body: JSON.stringify(partialSuccess(this.rejectForm, refused)) };
  }

  /** Processes one request: `events` are its batch events (undefined for a single payload). */
  #process(
    req: IncomingMessage,
    text: string,
    key: string | undefined,
    events: unknown[] | undefined,
  ): Answer {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers[name] = name === 'authorization' ? '***' : value;
    }
    if (events !== undefined) return this.#processBatch(events, headers);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 400, body: '{"error":"body is not JSON"}' };
    }
    const id = String((body as { id?: unknown }).id ?? '');
    this.received.push({ id, key, headers, body, at: Date.now() });
    this.onReceive(body);
    return ACCEPTED;
  }
}

/** How the mock words the events a batch request rejects. */
export type RejectForm =
  | 'results'
  | 'status-400'
  | '2xx-rejected'
  | '2xx-errors'
  | '2xx-failed_records';

/** The body of a 2xx that accepts a batch but names the events it rejected, in one list form. */
function partialSuccess(
  form: Exclude<RejectForm, 'results' | 'status-400'>,
  refused: { index: number; error: string }[],
): Record<string, unknown> {
  switch (form) {
    case '2xx-rejected':
      return { rejected: refused.map(({ index, error }) => ({ index, reason: error })) };
    case '2xx-errors':
      return { errors: refused.map(({ index, error }) => ({ index, error })) };
    case '2xx-failed_records':
      return { failed_records: refused.map(({ index, error }) => ({ index, message: error })) };
  }
}

/** The events of a batch body (array, NDJSON or `{"batch": [...]}`), or undefined for one payload. */
function batchEvents(text: string, contentType: string): unknown[] | undefined {
  try {
    if (contentType.includes('ndjson')) {
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as unknown);
    }
    const body = JSON.parse(text) as unknown;
    if (Array.isArray(body)) return body;
    const envelope = (body as { batch?: unknown } | null)?.batch;
    return Array.isArray(envelope) ? envelope : undefined;
  } catch {
    return undefined;
  }
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
