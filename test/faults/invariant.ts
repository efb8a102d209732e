import type { BatchRequestSeen } from '../../local/mocks/analytics-mock.ts';
import { requestKey } from '../../shared/domain/analytics-batch.ts';
import { buildMergedPayload, payloadHash } from '../../shared/domain/merge.ts';
import { checkRecord, type SourceRecord } from '../../shared/domain/records.ts';
import { SOURCES } from '../../shared/sources/registry.ts';

/** What one fault scenario left behind, read from the mocks and the topics. */
export type Observed = {
  /** Raw records the mock sources hold at the end (valid and invalid). */
  customers: Record<string, unknown>[];
  products: Record<string, unknown>[];
  /**
   * How the merge delivered: `single` (one payload per POST, its hash as Idempotency-Key) or
   * `batch` (many per request, each event with its hash in `eventIdField`, the request's key
   * derived from its events' ids: shared/domain/analytics-batch.ts).
   */
  mode: 'single' | 'batch';
  /** The field batch events carry their id in (ANALYTICS_EVENT_ID_FIELD). */
  eventIdField: string;
  /**
   * What Analytics processed, in order, one entry per payload: the body (a batch event: the
   * payload with its id field), its key (Idempotency-Key, or a batch event's id) and, for a batch
   * event, the request it came in (its Idempotency-Key and all its event ids).
   */
  receipts: { body: unknown; key: string | undefined; request?: BatchRequestSeen }[];
  /** Whether the Analytics mock honoured Idempotency-Key (and batch event ids) in this scenario. */
  honoursKey: boolean;
  /** Requests whose key Analytics had processed before. */
  repeatedKeys: number;
  /** POSTs the merge retried after a timeout or reset once sent (per payload in a batch request). */
  ambiguousRetries: number;
  /**
   * Completed marks lost, counted by the runner: payloads claimed again while the COMPLETED
   * write after their 2xx had not reached Redis (a process that died there, an outage past the
   * settle window). Each may be sent again, unseen by the merge's ambiguous-retry count.
   */
  lostMarks: number;
  /**
   * Payloads that reached the sink again (a key or event id it had processed), whether it
   * answered from the first answer or processed them again.
   */
  repeatedPayloads: number;
  /** False when the scenario's faults fit the retry budget: then nothing may be dead-lettered. */
  deadLettersExpected: boolean;
  /** The retry budget the scenario assumes, for the report. */
  budget: string;
  /** Values on the dead_letter topic. */
  deadLetters: string[];
  /** Values on the quarantine topic. */
  quarantine: string[];
  /** Keys of the messages on the two source topics. */
  customerTopicIds: string[];
  productTopicIds: string[];
  /** The fetch function's record size limit (MAX_RECORD_BYTES): larger records are invalid. */
  maxRecordBytes: number;
  /** Invalid inputs the scenario injected: each must be in quarantine. */
  expectedQuarantined: number;
  /** Skip the source-topic check (scenarios that invoke the merge function directly). */
  sourceTopicsChecked: boolean;
};

export type FaultRow = {
  fault: string;
  mode: 'single' | 'batch';
  budget: string;
  recordsIn: number;
  deliveredOnce: number;
  deadLettered: number;
  quarantined: number;
  duplicates: number;
  distinctKeys: number;
  repeatedKeys: number;
  ambiguousRetries: number;
  lostMarks: number;
  lost: number;
  problems: string[];
};

type Letter = { payload?: unknown; reason?: unknown };
type Quarantined = { reason?: unknown };

/**
 * The suite's invariant for one scenario, in either delivery mode, counted payload by payload.
 *
 * - Every merged payload the sources imply (the newest valid customer and product of each id
 *   both hold) was received by Analytics exactly once, or is on the dead_letter topic with a
 *   reason; nothing is dead-lettered when the faults fit the retry budget.
 * - Every receipt carries the payload's identity. Single mode: its hash as the Idempotency-Key.
 *   Batch mode: its hash as the event id, in a batch request (none outside one) whose
 *   Idempotency-Key is requestKey of all its events' ids, in order.
 * - A payload reaches the sink again only when that is explained: by an ambiguous retry (a
 *   timeout or reset once sent; the merge counts one per payload in the request) or by a
 *   completed mark that had not reached Redis when the payload was claimed again (a crash
 *   between the 2xx and the marks, or an outage past the settle window; the runner counts them). So the repeated
 *   payloads the sink saw are at most ambiguous retries + lost marks.
 * - Duplicates: none at a sink that honours the key (and the event ids); at one that ignores
 *   them, exactly ambiguous retries + lost marks (each re-send processed again).
 * - Every valid source record reached its topic; every invalid input is in quarantine with a
 *   reason.
 */
export function checkInvariant(fault: string, observed: Observed): FaultRow {
  const problems: string[] = [];
  type Checked = { id: string; record: SourceRecord; change: number | null };
  const newest = (records: Checked[]) => {
    const byId = new Map<string, SourceRecord>();
    const versions = new Map<string, number>();
    for (const { id, record, change } of records) {
      const version = change ?? 0;
      if (!byId.has(id) || version >= (versions.get(id) ?? 0)) {
        byId.set(id, record);
        versions.set(id, version);
      }
    }
    return byId;
  };
  const fits = (raw: unknown) => Buffer.byteLength(JSON.stringify(raw)) <= observed.maxRecordBytes;
  const validCustomers = observed.customers.filter(fits).flatMap((raw) => {
    const checked = checkRecord(SOURCES.crm, raw);
    return checked.ok ? [checked] : [];
  });
  const validProducts = observed.products.filter(fits).flatMap((raw) => {
    const checked = checkRecord(SOURCES.inventory, raw);
    return checked.ok ? [checked] : [];
  });
  const customers = newest(validCustomers);
  const products = newest(validProducts);

  const expected = new Map<string, string>();
  for (const [id, customer] of customers) {
    const inventory = products.get(id);
    if (!inventory) continue;
    const payload = buildMergedPayload(id, { customer, inventory });
    if (payload) expected.set(payloadHash(payload), id);
  }

  const receivedCounts = new Map<string, number>();
  const keys = new Set<string | undefined>();
  const batch = observed.mode === 'batch';
  const requests = new Set<BatchRequestSeen>();
  let wrongKeys = 0;
  let outsideBatch = 0;
  for (const { body, key, request } of observed.receipts) {
    let payload = body as Record<string, unknown>;
    let identity = key;
    if (batch) {
      const { [observed.eventIdField]: eventId, ...rest } = payload;
      payload = rest;
      identity = typeof eventId === 'string' ? eventId : undefined;
      if (request) requests.add(request);
      else outsideBatch++;
    }
    const hash = payloadHash(payload as unknown as Parameters<typeof payloadHash>[0]);
    receivedCounts.set(hash, (receivedCounts.get(hash) ?? 0) + 1);
    keys.add(identity);
    if (identity !== hash) wrongKeys++;
  }
  if (wrongKeys > 0)
    problems.push(
      batch
        ? `${wrongKeys} receipt(s) without the payload's hash as its ${observed.eventIdField}`
        : `${wrongKeys} receipt(s) without the payload's identity as Idempotency-Key`,
    );
  if (outsideBatch > 0)
    problems.push(`${outsideBatch} payload(s) received outside a batch request in batch mode`);
  const wrongRequestKeys = [...requests].filter(
    (request) =>
      request.eventIds.some((id) => id === undefined) ||
      request.key !== requestKey(request.eventIds as string[]),
  ).length;
  if (wrongRequestKeys > 0)
    problems.push(
      `${wrongRequestKeys} batch request(s) whose Idempotency-Key is not derived from their events' ids`,
    );
  const duplicates = [...receivedCounts.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  // A payload goes to the sink again only after an ambiguous failure (the merge counts it) or a
  // completed mark that never reached Redis (the runner counts it): any other repeat is a payload
  // the merge had recorded as delivered and sent anyway, a broken dedupe even where the sink
  // hides it.
  const explained = observed.ambiguousRetries + observed.lostMarks;
  if (observed.repeatedPayloads > explained)
    problems.push(
      `${observed.repeatedPayloads} payload(s) reached the sink again, but only ${explained} re-send(s) are explained (${observed.ambiguousRetries} ambiguous retries, ${observed.lostMarks} completed marks lost)`,
    );
  if (observed.honoursKey && duplicates > 0)
    problems.push(`${duplicates} payload(s) received more than once`);
  if (!observed.honoursKey && duplicates !== explained)
    problems.push(
      `a sink that ignores the key received ${duplicates} duplicate(s), but the merge counted ${observed.ambiguousRetries} ambiguous retries and ${observed.lostMarks} completed marks were lost`,
    );
  if (!observed.deadLettersExpected && observed.deadLetters.length > 0)
    problems.push(
      `${observed.deadLetters.length} dead letter(s) although the faults fit the retry budget (${observed.budget})`,
    );

  const lettered = new Set<string>();
  for (const value of observed.deadLetters) {
    const letter = JSON.parse(value) as Letter;
    if (typeof letter.reason !== 'string' || letter.reason === '') {
      problems.push('a dead letter has no reason');
    }
    lettered.add(payloadHash(letter.payload as Parameters<typeof payloadHash>[0]));
  }

  let deliveredOnce = 0;
  let lost = 0;
  for (const [hash, id] of expected) {
    const count = receivedCounts.get(hash) ?? 0;
    if (count === 1) deliveredOnce++;
    else if (count === 0 && !lettered.has(hash)) {
      lost++;
      if (lost <= 3) problems.push(`payload of id ${id} neither delivered nor dead-lettered`);
    }
  }

  if (observed.sourceTopicsChecked) {
    const onTopic = [new Set(observed.customerTopicIds), new Set(observed.productTopicIds)];
    const missing = [
      ...[...customers.keys()].filter((id) => !onTopic[0]?.has(id)),
      ...[...products.keys()].filter((id) => !onTopic[1]?.has(id)),
    ];
    if (missing.length > 0) {
      lost += missing.length;
      problems.push(`${missing.length} valid source record(s) never reached their topic`);
    }
  }

  const quarantined = observed.quarantine.map((value) => JSON.parse(value) as Quarantined);
  const withoutReason = quarantined.filter((q) => typeof q.reason !== 'string' || q.reason === '');
  if (withoutReason.length > 0)
    problems.push(`${withoutReason.length} quarantine entries lack a reason`);
  if (quarantined.length < observed.expectedQuarantined) {
    lost += observed.expectedQuarantined - quarantined.length;
    problems.push(
      `${observed.expectedQuarantined} invalid input(s) injected, ${quarantined.length} in quarantine`,
    );
  }

  return {
    fault,
    mode: observed.mode,
    budget: observed.budget,
    recordsIn: observed.customers.length + observed.products.length,
    deliveredOnce,
    deadLettered: observed.deadLetters.length,
    quarantined: quarantined.length,
    duplicates,
    distinctKeys: keys.size,
    repeatedKeys: observed.repeatedKeys,
    ambiguousRetries: observed.ambiguousRetries,
    lostMarks: observed.lostMarks,
    lost,
    problems,
  };
}
