import { randomUUID } from 'node:crypto';
import { formatSince, nextCursor, sinceThreshold } from '../domain/sync.ts';
import { PaginationError, SourceResponseError } from '../errors.ts';
import type { SourcePageReader, SyncCheckpoint, SyncStateStore } from '../ports.ts';
import { FieldSightings } from '../sources/contract.ts';
import { firstPageUrl, type SourcePage } from '../sources/page.ts';
import { type PagePublishDeps, publishPage } from './publish-page.ts';

export type FetchDeps = PagePublishDeps & {
  /** The source's list endpoint, resolved from its definition and the deployment. */
  endpoint: string;
  reader: SourcePageReader;
  pageSize: number;
  /** Most pages one invocation reads; a run with more continues in the next invocation. */
  maxPages: number;
  /** Cursor, checkpoint and lease; without it every run is full and cannot be resumed. */
  state?: SyncStateStore | undefined;
  /** Ignore the cursor (and any paused incremental run): read everything. */
  full?: boolean;
  /** Epoch ms after which no new page is started; the run pauses at a page boundary. */
  stopAt?: number;
  /**
   * How long the lease outlives a run that could not release it (a crash, or Redis away when it
   * ended). While the run lives it is renewed every third of this, and checked after each page.
   */
  leaseMs?: number;
  now?: () => Date;
  /** Epoch ms for the time budget (`stopAt`) and durations; Date.now unless a test steers it. */
  clock?: () => number;
};

export type FetchSummary = {
  source: string;
  correlationId: string;
  /** complete: the run ended; paused: it stopped at a page boundary to continue; busy: another run holds the lease. */
  outcome: 'complete' | 'paused' | 'busy';
  mode: 'full' | 'incremental';
  /** The change value the run asked from, for incremental runs. */
  since?: string;
  fetched: number;
  published: number;
  quarantined: number;
  unchanged: number;
  pages: number;
  retries: number;
  /** Undeclared fields this run saw first (evolve contract; logged as `new field seen`). */
  newFields?: string[];
  /** Values the discard_value contract removed from published records. */
  discardedValues?: number;
  /** The total the source announced, when it did; a mismatch is logged as a warning. */
  expected?: number;
  durationMs: number;
};

/**
 * Fetches a source and publishes its records, keyed by id, each exactly as the source sent it.
 *
 * 1. Take the source's lease (another run holds it: return `busy`); renew it while the run lives.
 * 2. Continue the saved run, or start one: full, or from the saved cursor less the overlap.
 * 3. Read page n+1 while page n is checked and published; after each page, save where the run
 *    is and renew the lease. Stop at a page boundary when the time or page budget runs out.
 * 4. After the last page, move the cursor to the highest change value published (or save the
 *    API's newest sync token) and delete the checkpoint, together. A run that fails leaves the
 *    cursor and the token where they were.
 *
 * Throws when a page cannot be read (after quarantining a malformed body) or pagination loops.
 */
export async function fetchSource(deps: FetchDeps): Promise<FetchSummary> {
  const { source, reader, log, correlationId, state } = deps;
  const now = deps.now ?? (() => new Date());
  const clock = deps.clock ?? Date.now;
  const started = clock();
  const leaseMs = deps.leaseMs ?? 30_000;
  const summary: FetchSummary = {
    source: source.name,
    correlationId,
    outcome: 'complete',
    mode: 'full',
    fetched: 0,
    published: 0,
    quarantined: 0,
    unchanged: 0,
    pages: 0,
    retries: 0,
    newFields: [],
    discardedValues: 0,
    durationMs: 0,
  };
  const owner = randomUUID();
  if (state && !(await state.acquireLease(source.name, owner, leaseMs))) {
    log.warn('another run of this source holds the lease; skipping', { source: source.name });
    summary.outcome = 'busy';
    return summary;
  }
  // Renewed on a timer too, so a page that takes longer than the lease (a slow source, retries)
  // does not let it lapse, and the lease can be short: one left behind by a run that could not
  // release it keeps the next run out for `leaseMs` at most. A failed renewal here is only noted;
  // the renewal after each page is the one that decides.
  const heartbeat = state
    ? setInterval(
        () => void state.renewLease(source.name, owner, leaseMs).catch(() => false),
        Math.max(50, Math.floor(leaseMs / 3)),
      )
    : undefined;
  heartbeat?.unref();
  // Fields seen before are not reported again: within this invocation at least.
  const pageDeps = { ...deps, sightings: deps.sightings ?? new FieldSightings() };
  let url = '';
  try {
    const run = await startOrResume(deps, now);
    summary.mode = run.mode;
    if (run.since !== undefined) summary.since = run.since;
    const threshold = run.threshold;
    const seen = new Set<string>([run.next]);
    let slowestPageMs = 0;
    url = run.next;
    let pending: Promise<SourcePage> | undefined = prefetch(reader, url);
    let invocationPages = 0;
    while (pending) {
      const pageStarted = clock();
      const page: SourcePage = await pending;
      summary.pages++;
      invocationPages++;
      run.pages++;
      if (page.total !== undefined) summary.expected = page.total;
      const next = page.next === null ? null : reader.redact(page.next);
      if (next !== null && seen.has(next)) {
        throw new PaginationError(source.name, url, `the next page repeats ${next}`);
      }
      if (next !== null) seen.add(next);
      const budgetLeft =
        invocationPages < deps.maxPages &&
        (deps.stopAt === undefined || clock() + 2 * slowestPageMs < deps.stopAt);
      pending = next !== null && budgetLeft ? prefetch(reader, next) : undefined;
      const outcome = await publishPage(
        page.items,
        run.pages,
        now().toISOString(),
        threshold,
        pageDeps,
      );
      summary.fetched += outcome.fetched;
      summary.published += outcome.published;
      summary.quarantined += outcome.quarantined;
      summary.unchanged += outcome.unchanged;
      summary.newFields?.push(...outcome.newFields);
      summary.discardedValues = (summary.discardedValues ?? 0) + outcome.discardedValues;
      run.published += outcome.published;
      run.maxChange = nextCursor(run.maxChange, outcome.maxChange);
      if (page.syncToken !== undefined) run.syncToken = page.syncToken;
      slowestPageMs = Math.max(slowestPageMs, clock() - pageStarted);
      if (next === null) break;
      url = next;
      if (state) {
        await state.saveCheckpoint(source.name, { ...run, next });
        if (!(await state.renewLease(source.name, owner, leaseMs))) {
          throw new PaginationError(source.name, url, 'the lease was lost to another run');
        }
      }
      if (pending === undefined) {
        summary.outcome = 'paused';
        log.info(
          state
            ? 'pausing at a page boundary; the next invocation continues'
            : 'stopping at the page limit (no state store to continue from)',
          { source: source.name, pages: summary.pages, next: url },
        );
        return summary;
      }
    }
    if (state) await state.completeRun(source.name, run.maxChange, run.syncToken);
    if (
      summary.expected !== undefined &&
      summary.expected !== summary.fetched &&
      run.pages === summary.pages
    ) {
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
    summary.durationMs = clock() - started;
    clearInterval(heartbeat);
    // A release that fails (Redis away) must neither hide why the run failed nor fail a run whose
    // state is saved: the lease then lapses after leaseMs and the next run continues.
    await state?.releaseLease(source.name, owner).catch((error: unknown) =>
      log.warn('could not release the lease; it lapses by itself', {
        source: source.name,
        leaseMs,
        error: (error as Error).message,
      }),
    );
  }
}

type Run = SyncCheckpoint & { threshold: number | null };

/** The saved run to continue, or a new one (full, or incremental from the saved cursor). */
async function startOrResume(deps: FetchDeps, now: () => Date): Promise<Run> {
  const { source, state, log } = deps;
  const change = source.change?.param ? source.change : undefined;
  const saved = state ? await state.readCheckpoint(source.name) : null;
  if (saved && !(deps.full && saved.mode === 'incremental')) {
    log.info('continuing a paused run', {
      source: source.name,
      next: saved.next,
      pages: saved.pages,
    });
    const threshold =
      saved.since !== undefined && change ? parseSince(change.kind, saved.since) : null;
    return { ...saved, threshold };
  }
  if (saved) await state?.clearCheckpoint(source.name);
  const cursor = change && !deps.full && state ? await state.readCursor(source.name) : null;
  const token =
    source.syncToken && !deps.full && state ? await state.readSyncToken(source.name) : null;
  const run: Run = {
    runId: deps.correlationId,
    mode: cursor === null && token === null ? 'full' : 'incremental',
    next: '',
    pages: 0,
    published: 0,
    maxChange: null,
    startedAt: now().toISOString(),
    threshold: null,
  };
  if (change && cursor !== null) {
    run.threshold = sinceThreshold(change, cursor);
    run.since = formatSince(change, run.threshold);
  }
  run.next = deps.reader.redact(
    firstPageUrl(source, deps.endpoint, deps.pageSize, run.since, token ?? undefined),
  );
  log.info('starting a run', {
    source: source.name,
    mode: run.mode,
    since: run.since,
    ...(token !== null && { fromSyncToken: true }),
  });
  return run;
}

function parseSince(kind: 'timestamp' | 'number', since: string): number {
  return kind === 'timestamp' ? Date.parse(since) : Number(since);
}

function prefetch(reader: SourcePageReader, url: string): Promise<SourcePage> {
  const pending = reader.readPage(url);
  pending.catch(() => {}); // awaited by the loop; this only keeps a prefetch failure from going unhandled
  return pending;
}
