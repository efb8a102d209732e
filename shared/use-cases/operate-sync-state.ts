import { z } from 'zod';
import { PipelineError } from '../errors.ts';
import type { SyncRewind, SyncStateAdmin, SyncStateView } from '../ports.ts';
import type { SourceDefinition } from '../sources/definition.ts';

/**
 * An operator's request about one source's sync state: show it, reset it (to nothing, or to a
 * `from` value), or backfill (the next run reads from `from`, or everything). The fetch function
 * takes it as `{"state": {...}}` on a direct invoke (`npm run state -- --aws`).
 */
export const stateOperationSchema = z
  .object({
    op: z.enum(['show', 'reset', 'backfill']),
    from: z.string().min(1).max(2_000).optional(),
  })
  .strict()
  .refine((operation) => operation.op !== 'show' || operation.from === undefined, {
    message: 'show takes no from',
    path: ['from'],
  });
export type StateOperation = z.infer<typeof stateOperationSchema>;

/** What an operation did, and the state after it. Plain data: it is a Lambda's answer too. */
export type StateAnswer = {
  source: string;
  op: StateOperation['op'];
  /** How the source keeps its place: a change value, the API's token, or none (always full). */
  cursorKind: 'timestamp' | 'number' | 'token' | 'none';
  /** One sentence saying what was done (or what the next run will do). */
  done: string;
  state: SyncStateView;
};

/** The operation cannot be done as asked; the message says why and what to do. */
export class StateOperationError extends PipelineError {
  override readonly name = 'StateOperationError';
}

/**
 * Runs a state operation on one source.
 *
 * 1. Validate the request and read `from` as the source keeps its place: an ISO time (or epoch
 *    ms) for a timestamp change field, a number for a numeric one, the token text for a source
 *    whose API keeps the cursor (reset only).
 * 2. Apply it atomically (refused while a run holds the lease), then read the state back.
 *
 * Nothing delivered is deleted: a re-read record rebuilds the same payload, whose idempotency
 * record (IDEMPOTENCY_TTL_SECONDS) keeps it from going out twice. Throws StateOperationError
 * for a bad request or a busy source.
 */
export async function operateSyncState(
  source: SourceDefinition,
  request: unknown,
  admin: SyncStateAdmin,
): Promise<StateAnswer> {
  const parsed = stateOperationSchema.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StateOperationError(
      `state operation: ${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const operation = parsed.data;
  const kind = cursorKindOf(source);
  const answer = (done: string, state: SyncStateView): StateAnswer => ({
    source: source.name,
    op: operation.op,
    cursorKind: kind,
    done,
    state,
  });
  if (operation.op === 'show') return answer('', await admin.inspect(source.name));

  const rewind = rewindOf(source.name, kind, operation);
  if (!(await admin.rewind(source.name, rewind))) {
    const { lease } = await admin.inspect(source.name);
    throw new StateOperationError(
      `source ${source.name}: a run holds the lease${lease ? ` (${Math.ceil(lease.expiresInMs / 1000)} s left)` : ''}; nothing was changed. Try again once it ends (a lease left by a crashed run lapses after FETCH_LEASE_MS).`,
    );
  }
  return answer(describe(rewind, kind), await admin.inspect(source.name));
}

function cursorKindOf(source: SourceDefinition): StateAnswer['cursorKind'] {
  if (source.syncToken) return 'token';
  if (source.change?.param) return source.change.kind;
  return 'none';
}

function rewindOf(
  name: string,
  kind: StateAnswer['cursorKind'],
  operation: StateOperation,
): SyncRewind {
  const { from } = operation;
  if (operation.op === 'backfill') {
    if (kind === 'none') {
      throw new StateOperationError(
        `source ${name} declares neither change.param nor syncToken: every run reads everything already, there is nothing to backfill`,
      );
    }
    if (from === undefined) return { kind: 'backfill', from: null };
    if (kind === 'token') {
      throw new StateOperationError(
        `source ${name} keeps its place as the API's sync token: a backfill reads everything (no --from); reset --from <token> sets the token`,
      );
    }
    return { kind: 'backfill', from: changeValue(name, kind, from) };
  }
  if (from === undefined) return { kind: 'nothing' };
  if (kind === 'none') {
    throw new StateOperationError(
      `source ${name} declares neither change.param nor syncToken: it keeps no cursor to set (reset without --from clears an unfinished run)`,
    );
  }
  if (kind === 'token') return { kind: 'token', syncToken: from };
  return { kind: 'cursor', cursor: changeValue(name, kind, from) };
}

/** A `from` value as the cursor keeps it: ms since the epoch for timestamps, else the number. */
function changeValue(name: string, kind: 'timestamp' | 'number', from: string): number {
  const text = from.trim();
  const number = text === '' ? Number.NaN : Number(text);
  if (kind === 'number' || Number.isFinite(number)) {
    if (Number.isFinite(number)) return number;
    throw new StateOperationError(
      `source ${name}: --from must be a number (its change field is numeric), got "${from}"`,
    );
  }
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) {
    throw new StateOperationError(
      `source ${name}: --from must be an ISO time like 2026-12-01T00:00:00Z (or epoch ms), got "${from}"`,
    );
  }
  return ms;
}

/** The cursor value as a person reads it: an ISO time for timestamps. */
export function cursorText(kind: StateAnswer['cursorKind'], value: number): string {
  return kind === 'timestamp' ? new Date(value).toISOString() : String(value);
}

function describe(rewind: SyncRewind, kind: StateAnswer['cursorKind']): string {
  switch (rewind.kind) {
    case 'nothing':
      return 'cursor, sync token and unfinished run cleared: the next run reads everything';
    case 'cursor':
      return `cursor set to ${cursorText(kind, rewind.cursor)}: the next run reads from there (less the overlap)`;
    case 'token':
      return 'sync token set: the next run sends it';
    case 'backfill':
      return rewind.from === null
        ? 'backfill: the next run reads everything, and the cursor ends no earlier than it is'
        : `backfill: the next run reads from ${cursorText(kind, rewind.from)} (less the overlap), and the cursor ends no earlier than it is`;
  }
}
