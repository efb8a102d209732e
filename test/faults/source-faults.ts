import { randomUUID } from 'node:crypto';
import type { LocalDeployment, LocalDeploymentOptions } from '../../local/deployment.ts';
import { sampleCustomers } from '../../local/mocks/dataset.ts';
import {
  definitionFor,
  MOCK_CREDENTIALS,
  StyledSourceMock,
  type StyledSourceOptions,
} from '../../local/mocks/styled-source.ts';
import { connectRedis } from '../../shared/adapters/redis.ts';
import { RedisSyncState } from '../../shared/adapters/redis-sync-state.ts';
import { parseSourceDefinitions } from '../../shared/sources/definition.ts';
import { SOURCES } from '../../shared/sources/registry.ts';
import type { FetchSummary } from '../../shared/use-cases/fetch-source.ts';
import { TcpProxy } from './network.ts';
import type { FaultContext, Scenario } from './scenarios.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Settled = PromiseSettledResult<FetchSummary>[];
const LEASE_MS = 2000;
const T0 = Date.parse('2025-03-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** The crm run's result of a cycle (the first source), as a summary or an error. */
function crmOf(results: unknown): FetchSummary | Error {
  const [crm] = results as Settled;
  if (!crm) return new Error('no crm run');
  return crm.status === 'fulfilled' ? crm.value : (crm.reason as Error);
}

/**
 * The pipeline with its crm source read from a styled mock (any paging and auth) holding the
 * same records as the worker's CRM mock, which the invariant reads: a row that changes records
 * changes both (`setCustomers`). Its sync state is under a key prefix the row can read.
 */
async function styledCrm(
  ctx: FaultContext,
  mockOptions: Omit<StyledSourceOptions, 'records'>,
  tweak: (definition: Record<string, unknown>) => void = () => {},
  options: Partial<LocalDeploymentOptions> = {},
) {
  const mock = await new StyledSourceMock({ ...mockOptions, records: sampleCustomers(30) }).start();
  const definition: Record<string, unknown> = {
    ...SOURCES.crm,
    ...definitionFor(mock, { pageSize: 10 }),
  };
  tweak(definition);
  const prefix = `faults-src-${randomUUID().slice(0, 8)}.`;
  let pipeline: LocalDeployment;
  try {
    pipeline = await ctx.start({
      sources: parseSourceDefinitions([definition, SOURCES.inventory], 'fault row'),
      sourceSettings: { crm: { SOURCE_SECRET: JSON.stringify(MOCK_CREDENTIALS) } },
      redisKeyPrefix: prefix,
      ...options,
    });
  } catch (error) {
    await mock.close();
    throw error;
  }
  const redis = await connectRedis({ url: ctx.redisUrl });
  const state = new RedisSyncState(redis, prefix);
  return {
    pipeline,
    mock,
    state,
    async setCustomers(records: Record<string, unknown>[]) {
      mock.options.records = records;
      await pipeline.crm.setRecords(structuredClone(records));
    },
    cleanup: async () => {
      redis.disconnect();
      await mock.close();
    },
  };
}

/**
 * Faults of the fetch side: its sync state (cursor, checkpoint, lease) and the sources' paging,
 * auth and change values, driven through the real local pipeline and checked by the invariant.
 */
export const SOURCE_FAULT_SCENARIOS: Scenario[] = [
  {
    name: 'redis: unreachable during a fetch run',
    budget: 'Redis client 2 retries; the next fetch run (lease 2 s)',
    async run(ctx) {
      const target = new URL(ctx.redisUrl);
      const proxy = await new TcpProxy(target.hostname, Number(target.port || 6379)).start();
      // Only the fetch functions go through the proxy: their cursor, checkpoint and lease.
      const pipeline = await ctx.start({
        fetchRedisUrl: `redis://127.0.0.1:${proxy.port}`,
        sourceFaults: { latencyMs: 150 },
        settings: { FETCH_LEASE_MS: String(LEASE_MS) },
      });
      const fetching = ctx.fetchInBackground(pipeline) as Promise<Settled>;
      // Into the first page, Redis goes away until the runs have failed: they can neither save
      // their checkpoint nor release their lease. (The client's command timeout bounds the wait.)
      await sleep(250);
      proxy.cut();
      const cutAt = Date.now();
      const during = await fetching;
      const failedAfterMs = Date.now() - cutAt;
      await proxy.heal();
      // The leases left behind lapse 2 s after their last renewal, before the cut at the latest.
      await sleep(Math.max(0, LEASE_MS + 100 - (Date.now() - cutAt)));
      const after = (await ctx.fetchInBackground(pipeline)) as Settled;
      await ctx.drain(pipeline);
      const problems: string[] = [];
      // Each run must have failed on Redis (a command out of retries, or timed out).
      const failed = during.filter(
        (r) =>
          r.status === 'rejected' && /MaxRetriesPerRequest|Redis|timed out/i.test(String(r.reason)),
      ).length;
      if (failed < 2) problems.push(`${failed} of 2 fetch runs failed on the outage`);
      const busy = after.filter((r) => r.status === 'fulfilled' && r.value.outcome === 'busy');
      if (busy.length > 0) problems.push(`${busy.length} run(s) still busy after the lease lapsed`);
      ctx.note(
        `${failed} fetch run(s) failed ${(failedAfterMs / 1000).toFixed(1)} s into the outage, leaving their leases; the next runs continued`,
      );
      return { pipeline, problems, cleanup: () => proxy.stop() };
    },
  },
  {
    name: 'source: a cursor that repeats (loop detected, cursor not moved)',
    budget: 'none: the run fails at once; the next run after the source is fixed',
    async run(ctx) {
      const crm = await styledCrm(ctx, { paging: 'cursor', changeParam: 'updatedSince' });
      const records = sampleCustomers(30).map((r, i) => ({ ...r, updatedAt: iso(T0 + i * 1000) }));
      await crm.setCustomers(records);
      await ctx.cycle(crm.pipeline);
      const cursor = await crm.state.readCursor('crm');
      // Every record changes, so the incremental run spans pages; the source's cursor loops.
      await crm.setCustomers(records.map((r, i) => ({ ...r, updatedAt: iso(T0 + 100_000 + i) })));
      crm.mock.options.loopCursor = true;
      const looped = crmOf(await ctx.fetchInBackground(crm.pipeline));
      const after = await crm.state.readCursor('crm');
      crm.mock.options.loopCursor = false;
      await ctx.cycle(crm.pipeline);
      const problems: string[] = [];
      if (!(looped instanceof Error) || !/repeats/.test(looped.message))
        problems.push(`the looping run did not fail on the repeat: ${JSON.stringify(looped)}`);
      if (cursor === null || after !== cursor)
        problems.push(`the cursor moved from ${cursor} to ${after}`);
      ctx.note(`loop refused: ${(looped as Error).message}`);
      return { pipeline: crm.pipeline, problems, cleanup: crm.cleanup };
    },
  },
  {
    name: 'source: a Link rel=next to another host (refused)',
    budget: 'none: the run fails at once; the next run after the source is fixed',
    async run(ctx) {
      const crm = await styledCrm(ctx, {
        paging: 'link',
        foreignLinkOrigin: 'http://elsewhere.example',
      });
      const refused = crmOf(await ctx.fetchInBackground(crm.pipeline));
      crm.mock.options.foreignLinkOrigin = undefined;
      await ctx.cycle(crm.pipeline);
      const problems: string[] = [];
      if (!(refused instanceof Error) || !/another host.*refused/.test(refused.message))
        problems.push(`the foreign Link was not refused: ${JSON.stringify(refused)}`);
      ctx.note(`refused: ${(refused as Error).message}`);
      return { pipeline: crm.pipeline, problems, cleanup: crm.cleanup };
    },
  },
  {
    name: 'source: a 200 MB page (refused at maxPageBytes, no crash)',
    budget: 'none: the run fails at once, not retried; the next run after the source is fixed',
    async run(ctx) {
      const crm = await styledCrm(ctx, { paging: 'page', changeParam: 'updatedSince' });
      const records = sampleCustomers(30).map((r, i) => ({ ...r, updatedAt: iso(T0 + i * 1000) }));
      await crm.setCustomers(records);
      await ctx.cycle(crm.pipeline);
      const cursor = await crm.state.readCursor('crm');
      // Every record changes; the second page of the next run streams 200 MB.
      await crm.setCustomers(records.map((r, i) => ({ ...r, updatedAt: iso(T0 + 100_000 + i) })));
      crm.mock.options.hugePage = { page: 2, bytes: 200 * 1024 * 1024 };
      const refused = crmOf(await ctx.fetchInBackground(crm.pipeline));
      const after = await crm.state.readCursor('crm');
      const sent = crm.mock.hugeBytesSent;
      crm.mock.options.hugePage = undefined;
      await ctx.cycle(crm.pipeline);
      const problems: string[] = [];
      if (
        !(refused instanceof Error) ||
        !/source "crm": the page at \S+page=2\S* is larger than its maxPageBytes limit of 8388608 bytes/.test(
          refused.message,
        )
      )
        problems.push(`the 200 MB page was not refused at the limit: ${String(refused)}`);
      if (cursor === null || after !== cursor)
        problems.push(`the cursor moved from ${cursor} to ${after}`);
      // Read as a stream and closed at the limit: the source wrote little more than 8 MiB.
      if (sent >= 64 * 1024 * 1024)
        problems.push(`the source wrote ${sent} bytes before the reader gave up`);
      ctx.note(
        `refused after the source wrote ${(sent / 1024 / 1024).toFixed(1)} MiB of 200: ${(refused as Error).message.slice(0, 90)}…`,
      );
      return { pipeline: crm.pipeline, problems, cleanup: crm.cleanup };
    },
  },
  {
    name: 'source: an OAuth2 token expires mid-run (renewed once)',
    budget: 'one token renewal on the 401',
    async run(ctx) {
      const crm = await styledCrm(ctx, { paging: 'page', auth: 'oauth2', expireTokensAfter: 1 });
      const run = crmOf(await ctx.fetchInBackground(crm.pipeline));
      await ctx.drain(crm.pipeline);
      const problems: string[] = [];
      if (run instanceof Error || run.outcome !== 'complete')
        problems.push(`the run did not complete: ${String(run)}`);
      if (crm.mock.tokensIssued !== 2)
        problems.push(`${crm.mock.tokensIssued} tokens issued, 2 expected (one renewal)`);
      ctx.note(`${crm.mock.tokensIssued} tokens issued over ${crm.mock.pages} pages`);
      return { pipeline: crm.pipeline, problems, cleanup: crm.cleanup };
    },
  },
  {
    name: 'source: a crash between pages (resumes from the checkpoint)',
    budget: 'the next fetch run',
    async run(ctx) {
      let pages = 0;
      const crm = await styledCrm(ctx, { paging: 'page' }, undefined, {
        // The third page's publish dies: pages 1 and 2 are published and checkpointed.
        interceptPublish: (source, publish) => async (topic, messages) => {
          if (source === 'crm' && ++pages === 3) throw new Error('crash between pages');
          return publish(topic, messages);
        },
      });
      const crashed = crmOf(await ctx.fetchInBackground(crm.pipeline));
      const checkpoint = await crm.state.readCheckpoint('crm');
      const resumed = crmOf(await ctx.fetchInBackground(crm.pipeline));
      await ctx.drain(crm.pipeline);
      const problems: string[] = [];
      if (!(crashed instanceof Error)) problems.push('the crashing run did not fail');
      if (checkpoint?.pages !== 2)
        problems.push(`checkpoint after ${checkpoint?.pages} pages, not 2`);
      if (resumed instanceof Error || resumed.pages !== 1 || resumed.published !== 7)
        problems.push(`the next run did not resume at page 3 alone: ${JSON.stringify(resumed)}`);
      ctx.note(
        `resumed from ${checkpoint?.next}: 1 page, ${(resumed as FetchSummary).published} records`,
      );
      return { pipeline: crm.pipeline, problems, cleanup: crm.cleanup };
    },
  },
  {
    name: 'source: a crash between pages of a sync-token run (token saved only at its end)',
    budget: 'the next fetch run',
    async run(ctx) {
      let crashAt = 0;
      let pages = 0;
      const crm = await styledCrm(
        ctx,
        { paging: 'page', syncTokenParam: 'syncToken', syncTokenEveryPage: true },
        undefined,
        {
          // While `crashAt` is set, that page's publish dies (counted from when it was set).
          interceptPublish: (source, publish) => async (topic, messages) => {
            if (source === 'crm' && crashAt > 0 && ++pages === crashAt) {
              throw new Error('crash between pages');
            }
            return publish(topic, messages);
          },
        },
      );
      const records = sampleCustomers(30).map((r, i) => ({ ...r, updatedAt: iso(T0 + i * 1000) }));
      await crm.setCustomers(records);
      await ctx.cycle(crm.pipeline);
      const synced = await crm.state.readSyncToken('crm');
      // Every customer changes, so the incremental listing spans three pages, each carrying the
      // listing's token; the run dies publishing the second.
      await crm.setCustomers(
        records.map((r, i) => ({
          ...r,
          name: `${String((r as { name?: unknown }).name)} II`,
          updatedAt: iso(T0 + 100_000 + i * 1000),
        })),
      );
      crashAt = 2;
      const crashed = crmOf(await ctx.fetchInBackground(crm.pipeline));
      crashAt = 0;
      const left = await crm.state.readSyncToken('crm');
      // The checkpoint is lost too (evicted, or deleted by hand): the token alone must lead the
      // next run back to every record the crashed run never read.
      await crm.state.clearCheckpoint('crm');
      const next = crmOf(await ctx.fetchInBackground(crm.pipeline));
      await ctx.drain(crm.pipeline);
      const unread = records.length - 10;
      const problems: string[] = [];
      if (!(crashed instanceof Error)) problems.push('the crashing run did not fail');
      if (synced === null) problems.push('the first run saved no sync token');
      if (left !== synced)
        problems.push('the crashed run moved the sync token: it claims a sync it never finished');
      if (next instanceof Error || next.mode !== 'incremental' || next.published < unread)
        problems.push(
          `the next run did not deliver the ${unread} records the crash left unread: ${JSON.stringify(next)}`,
        );
      ctx.note(
        `token ${left === synced ? 'kept through' : 'moved by'} the crash; the next run published ${(next as FetchSummary).published} from it`,
      );
      return { pipeline: crm.pipeline, problems, cleanup: crm.cleanup };
    },
  },
  {
    name: 'source: records whose change value equals the cursor (not missed)',
    budget: 'none needed',
    async run(ctx) {
      const crm = await styledCrm(ctx, { paging: 'page', changeParam: 'updatedSince' }, (d) => {
        // No overlap: the run asks from the cursor itself, the boundary case.
        d.change = { ...(d.change as object), overlap: 0 };
      });
      const records = sampleCustomers(30).map((r, i) => ({ ...r, updatedAt: iso(T0 + i * 1000) }));
      await crm.setCustomers(records);
      await ctx.cycle(crm.pipeline);
      const cursor = await crm.state.readCursor('crm');
      // Written after the run, in the same millisecond as the newest record it saw: customer 10
      // (whose product is there already) and a second version of nobody else.
      const late = { ...sampleCustomers(10, false)[9], updatedAt: iso(cursor ?? 0) };
      await crm.setCustomers([...records, late]);
      const second = crmOf(await ctx.fetchInBackground(crm.pipeline));
      await ctx.drain(crm.pipeline);
      const problems: string[] = [];
      if (cursor !== T0 + (records.length - 1) * 1000)
        problems.push(`cursor ${cursor}, expected the newest record's`);
      if (
        second instanceof Error ||
        second.mode !== 'incremental' ||
        second.since !== iso(cursor ?? 0)
      )
        problems.push(
          `the second run was not incremental from the cursor: ${JSON.stringify(second)}`,
        );
      ctx.note(
        `incremental run from ${iso(cursor ?? 0)} published ${(second as FetchSummary).published}`,
      );
      return { pipeline: crm.pipeline, problems, cleanup: crm.cleanup };
    },
  },
];
