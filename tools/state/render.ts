import type { SyncCheckpoint } from '../../shared/ports.ts';
import { cursorText, type StateAnswer } from '../../shared/use-cases/operate-sync-state.ts';

/** The lines `npm run state` prints for an answer, locally or from the stack's fetch function. */
export function stateLines(answer: StateAnswer, where: string): string[] {
  const { state, cursorKind } = answer;
  const kind = {
    timestamp: 'a timestamp cursor',
    number: 'a numeric cursor',
    token: "the API's sync token",
    none: 'no cursor (every run reads everything)',
  }[cursorKind];
  const lines = [`source ${answer.source} (${where}): ${kind}`];
  if (answer.done !== '') lines.push(`  done:        ${answer.done}`);
  lines.push(
    `  cursor:      ${state.cursor === null ? 'none' : cursorText(cursorKind, state.cursor)}`,
    `  sync token:  ${state.syncToken ?? 'none'}`,
    `  checkpoint:  ${state.checkpoint ? checkpointText(state.checkpoint) : 'none (no unfinished run)'}`,
    `  lease:       ${state.lease ? `held by run ${state.lease.owner}, ${Math.ceil(state.lease.expiresInMs / 1000)} s left` : 'free'}`,
    `  backfill:    ${
      state.backfill === null
        ? 'none'
        : state.backfill.from === null
          ? 'the next run reads everything'
          : `the next run reads from ${cursorText(cursorKind, state.backfill.from)}`
    }`,
  );
  return lines;
}

function checkpointText(checkpoint: SyncCheckpoint): string {
  const since = checkpoint.since === undefined ? '' : ` since ${checkpoint.since}`;
  return `run ${checkpoint.runId} (${checkpoint.mode}${since}, started ${checkpoint.startedAt}): ${checkpoint.pages} page(s), ${checkpoint.published} published, next ${checkpoint.next}`;
}
