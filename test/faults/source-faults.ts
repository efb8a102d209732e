import { TcpProxy } from './network.ts';
import type { Scenario } from './scenarios.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Settled = PromiseSettledResult<{ outcome: string }>[];

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
        settings: { FETCH_LEASE_MS: '2000' },
      });
      const fetching = ctx.fetchInBackground(pipeline) as Promise<Settled>;
      // Into the first page, Redis goes away for 3 s: longer than the client's retries, so the
      // runs cannot save their checkpoint nor release their lease; it lapses meanwhile.
      await sleep(250);
      proxy.cut();
      await sleep(3000);
      await proxy.heal();
      const during = await fetching;
      const after = (await ctx.fetchInBackground(pipeline)) as Settled;
      await ctx.drain(pipeline);
      const problems: string[] = [];
      const failed = during.filter((result) => result.status === 'rejected').length;
      if (failed === 0) problems.push('no fetch run met the outage');
      const busy = after.filter((r) => r.status === 'fulfilled' && r.value.outcome === 'busy');
      if (busy.length > 0) problems.push(`${busy.length} run(s) still busy after the lease lapsed`);
      ctx.note(`${failed} fetch run(s) failed while Redis was away; the next runs continued`);
      return { pipeline, problems, cleanup: () => proxy.stop() };
    },
  },
];
