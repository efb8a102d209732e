import { validateRecord } from '../domain/records.ts';
import { SourceResponseError } from '../errors.ts';
import type { Log } from '../logger.ts';
import type {
  OutboundMessage,
  Publisher,
  QuarantineEntry,
  QuarantineSink,
  SourcePageReader,
} from '../ports.ts';
import type { SourcePage } from '../sources/page.ts';
import type { SourceDefinition } from '../sources/registry.ts';

export type FetchDeps = {
  source: SourceDefinition;
  /** Topic the valid records go to (the registry's topic, with any configured prefix). */
  topic: string;
  reader: SourcePageReader;
  publisher: Publisher;
  quarantine: QuarantineSink;
  log: Log;
  correlationId: string;
  pageSize: number;
  maxPages: number;
  maxRecordBytes: number;
  now?: () => Date;
};

export type FetchSummary = {
  source: string;
  correlationId: string;
  fetched: number;
  published: number;
  quarantined: number;
  pages: number;
  retries: number;
  /** The total the source announced, when it did; a mismatch is logged as a warning. */
  expected?: number;
  durationMs: number;
};

/**
 * Fetches every page of a source and publishes its records, keyed by id.
 *
 * 1. Read page n (retries inside the reader), while page n-1 is being published.
 * 2. Validate each record: size, then schema. Invalid ones go to quarantine with the reason.
 * 3. Publish the valid ones (acks=all) with correlation-id, fetched-at and source headers.
 * 4. Stop at the last page; return the counts.
 *
 * Throws when a page cannot be read (after quarantining a malformed body); records published
 * before that stay published, which is safe because the merge step is idempotent.
 */
export async function fetchSource(deps: FetchDeps): Promise<FetchSummary> {
  const { source, reader, log, correlationId, pageSize } = deps;
  const now = deps.now ?? (() => new Date());
  const started = Date.now();
  const summary: FetchSummary = {
    source: source.name,
    correlationId,
    fetched: 0,
    published: 0,
    quarantined: 0,
    pages: 0,
    retries: 0,
    durationMs: 0,
  };
  const readPage = (page: number) => {
    const pending = reader.readPage(page, pageSize);
    pending.catch(() => {}); // awaited below; this only keeps a prefetch failure from going unhandled
    return pending;
  };

  try {
    let pageNumber = 1;
    let pending: Promise<SourcePage> | undefined = readPage(pageNumber);
    while (pending) {
      const page: SourcePage = await pending;
      summary.pages++;
      if (page.total !== undefined) summary.expected = page.total;
      const next: number | null = page.nextPage;
      if (next !== null && next <= pageNumber) {
        throw new SourceResponseError(
          `${source.path}?page=${pageNumber}`,
          `next page ${next} does not advance`,
          '',
        );
      }
      pending = next !== null && summary.pages < deps.maxPages ? readPage(next) : undefined;
      if (next !== null && pending === undefined) {
        log.warn('stopping at the page limit', { source: source.name, maxPages: deps.maxPages });
      }
      await publishPage(page, pageNumber, deps, summary, now().toISOString());
      pageNumber = next ?? pageNumber;
    }
    if (summary.expected !== undefined && summary.expected !== summary.fetched) {
      log.warn('source announced a different total than it served', {
        source: source.name,
        expected: summary.expected,
        fetched: summary.fetched,
      });
    }
    return summary;
  } catch (error) {
    if (error instanceof SourceResponseError && error.body !== '') {
      await deps.quarantine.quarantine([
        {
          stage: 'fetch',
          source: source.name,
          reason: error.message,
          raw: error.body,
          correlationId,
        },
      ]);
      summary.quarantined++;
    }
    throw error;
  } finally {
    summary.retries = reader.retries;
    summary.durationMs = Date.now() - started;
  }
}

async function publishPage(
  page: SourcePage,
  pageNumber: number,
  deps: FetchDeps,
  summary: FetchSummary,
  fetchedAt: string,
): Promise<void> {
  const { source, correlationId } = deps;
  const valid: OutboundMessage[] = [];
  const invalid: QuarantineEntry[] = [];
  for (const item of page.items) {
    summary.fetched++;
    const raw = JSON.stringify(item) ?? 'undefined';
    const bytes = Buffer.byteLength(raw);
    const checked =
      bytes > deps.maxRecordBytes
        ? {
            ok: false as const,
            reason: `record is ${bytes} bytes, over the ${deps.maxRecordBytes}-byte limit`,
          }
        : validateRecord(source.schema, item);
    if (checked.ok) {
      valid.push({
        key: checked.record.id,
        value: JSON.stringify(checked.record),
        headers: { 'correlation-id': correlationId, 'fetched-at': fetchedAt, source: source.name },
      });
    } else {
      const id = 'id' in checked ? checked.id : undefined;
      invalid.push({
        stage: 'fetch',
        source: source.name,
        reason: checked.reason,
        raw,
        correlationId,
        ...(id !== undefined && { id }),
      });
      deps.log.warn('record quarantined', {
        source: source.name,
        page: pageNumber,
        id,
        reason: checked.reason,
      });
    }
  }
  await Promise.all([
    deps.publisher.publish(deps.topic, valid),
    invalid.length > 0 ? deps.quarantine.quarantine(invalid) : Promise.resolve(),
  ]);
  summary.published += valid.length;
  summary.quarantined += invalid.length;
  for (const message of valid) {
    deps.log.info('record published', { id: message.key, topic: deps.topic, page: pageNumber });
  }
  deps.log.info('page published', {
    source: source.name,
    page: pageNumber,
    published: valid.length,
    quarantined: invalid.length,
  });
}
