import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createFetchHandler } from '../../functions/fetch/handler.ts';
import type { FetchRuntime } from '../../functions/fetch/runtime.ts';
import type { SyncRewind, SyncStateAdmin, SyncStateView } from '../../shared/ports.ts';
import { parseSourceDefinitions } from '../../shared/sources/definition.ts';
import type { StateAnswer } from '../../shared/use-cases/operate-sync-state.ts';
import { fetchOutputKey, stateOnAws } from '../../tools/state/aws.ts';
import { stateLines } from '../../tools/state/render.ts';

const cloudformation = mockClient(CloudFormationClient);
const lambda = mockClient(LambdaClient);
afterEach(() => {
  cloudformation.reset();
  lambda.reset();
});

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const EMPTY: SyncStateView = {
  cursor: null,
  syncToken: null,
  checkpoint: null,
  lease: null,
  backfill: null,
};
const answer: StateAnswer = {
  source: 'crm',
  op: 'reset',
  cursorKind: 'timestamp',
  done: 'cursor set to 2026-12-01T00:00:00.000Z: the next run reads from there (less the overlap)',
  state: { ...EMPTY, cursor: Date.parse('2026-12-01T00:00:00Z') },
};

describe('npm run state -- --aws', () => {
  it("invokes the source's fetch function, named by the stack output, with the operation", async () => {
    cloudformation.on(DescribeStacksCommand, { StackName: 'prod-kafka-merge-pipeline' }).resolves({
      Stacks: [
        {
          StackName: 'prod-kafka-merge-pipeline',
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [
            { OutputKey: 'FetchinventoryFunctionName', OutputValue: 'prod-fetch-inventory' },
            { OutputKey: 'FetchcrmFunctionName', OutputValue: 'prod-fetch-crm' },
          ],
        },
      ],
    });
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode(answer) as never });
    const got = await stateOnAws('prod', 'crm', { op: 'reset', from: '2026-12-01T00:00:00Z' });
    const invoked = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(invoked?.FunctionName).toBe('prod-fetch-crm');
    expect(JSON.parse(new TextDecoder().decode(invoked?.Payload as Uint8Array))).toEqual({
      state: { op: 'reset', from: '2026-12-01T00:00:00Z' },
    });
    expect(got).toEqual(answer);
    expect(stateLines(got, 'stage prod')).toEqual([
      'source crm (stage prod): a timestamp cursor',
      `  done:        ${answer.done}`,
      '  cursor:      2026-12-01T00:00:00.000Z',
      '  sync token:  none',
      '  checkpoint:  none (no unfinished run)',
      '  lease:       free',
      '  backfill:    none',
    ]);
  });

  it('names a missing output and passes on what the function refused', async () => {
    cloudformation.on(DescribeStacksCommand).resolves({ Stacks: [] });
    await expect(stateOnAws('dev', 'billing', { op: 'show' })).rejects.toThrow(
      'stack dev-kafka-merge-pipeline has no FetchbillingFunctionName output: is "billing" one of its sources? Or pass --function',
    );
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({ errorType: 'StateOperationError', errorMessage: 'a run holds the lease' }),
    } as never);
    await expect(stateOnAws('dev', 'crm', { op: 'reset' }, 'my-fetch')).rejects.toThrow(
      'the fetch function my-fetch refused (Unhandled): a run holds the lease',
    );
    expect(cloudformation.commandCalls(DescribeStacksCommand)).toHaveLength(1);
    expect(fetchOutputKey('price-list')).toBe('FetchpricelistFunctionName');
  });
});

/** A fetch runtime whose only working part is its sync state; a fetch run through it fails. */
function runtimeWith(admin: SyncStateAdmin | undefined) {
  const [source] = parseSourceDefinitions([
    {
      name: 'crm',
      url: 'http://127.0.0.1:9/customers',
      change: { path: 'updatedAt', param: 'updatedSince' },
    },
  ]);
  const lines: string[] = [];
  const logger = {
    addContext: () => undefined,
    appendKeys: () => undefined,
    removeKeys: () => undefined,
    info: (message: string) => lines.push(message),
    warn: (message: string) => lines.push(message),
    error: (message: string) => lines.push(message),
  };
  const runtime = {
    source,
    logger,
    config: { FETCH_STOP_MARGIN_MS: 0 },
    metrics: { addMetric: () => undefined, publishStoredMetrics: () => undefined },
    newReader: () => {
      throw new Error('a scheduled run started');
    },
    state: async () => admin,
  } as unknown as FetchRuntime;
  return { handler: createFetchHandler(runtime), lines };
}

function recordingAdmin() {
  const rewinds: SyncRewind[] = [];
  const admin: SyncStateAdmin = {
    inspect: async () => EMPTY,
    rewind: async (_source, to) => {
      rewinds.push(to);
      return true;
    },
  };
  return { admin, rewinds };
}

describe('the fetch function answering a state operation', () => {
  it('does the operation a {"state": …} invoke asks for, and logs it', async () => {
    const { admin, rewinds } = recordingAdmin();
    const { handler, lines } = runtimeWith(admin);
    const got = await handler({ state: { op: 'backfill', from: '2026-11-01T00:00:00Z' } });
    expect(rewinds).toEqual([{ kind: 'backfill', from: Date.parse('2026-11-01T00:00:00Z') }]);
    expect(got).toMatchObject({ source: 'crm', op: 'backfill', cursorKind: 'timestamp' });
    expect(lines).toEqual(['sync state operation']);
  });

  it('refuses a state event with anything beside "state", or a bad operation', async () => {
    const { admin, rewinds } = recordingAdmin();
    const { handler, lines } = runtimeWith(admin);
    await expect(handler({ state: { op: 'reset' }, full: true } as never)).rejects.toThrow(
      'a state operation takes only "state"; it also had "full"',
    );
    await expect(handler({ state: 'reset' })).rejects.toThrow(/^state operation: /);
    await expect(handler({ state: { op: 'drop' } })).rejects.toThrow(/^state operation: op: /);
    expect(rewinds).toEqual([]);
    expect(lines).toContain('sync state operation refused');
  });

  it('says so when the function keeps no sync state (no REDIS_URL)', async () => {
    const { handler } = runtimeWith(undefined);
    await expect(handler({ state: { op: 'show' } })).rejects.toThrow(
      'the fetch function of crm has no REDIS_URL: it keeps no cursor to show or rewind',
    );
  });

  it('runs the fetch for a scheduled event, whatever else it carries', async () => {
    const { admin, rewinds } = recordingAdmin();
    const { handler } = runtimeWith(admin);
    // Scheduler's own input, and an EventBridge rule's scheduled event (the LocalStack target).
    for (const event of [undefined, {}, { full: true }, { 'detail-type': 'Scheduled Event' }]) {
      await expect(handler(event as never)).rejects.toThrow('a scheduled run started');
    }
    expect(rewinds).toEqual([]);
  });
});
