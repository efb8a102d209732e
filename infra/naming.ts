/**
 * Names the stack gives and the tools (npm run logs) look up. Plain functions, no CDK imports,
 * so the tools can use them without loading the CDK.
 */

/** Name of the stack of a stage. */
export function stackName(stage: string): string {
  return `${stage}-kafka-merge-pipeline`;
}

/** Log group of a function role (merge, fetch-crm, …) of a stage. */
export function logGroupName(stage: string, role: string): string {
  return `/${stage}-pipeline/${role}`;
}

/** Fields of a pipeline log line that Logs Insights queries return (saved queries and npm run logs). */
export const LOG_QUERY_FIELDS = [
  '@timestamp',
  'level',
  'service',
  'message',
  'id',
  'correlationId',
  'topic',
  'partition',
  'offset',
  'hash',
  'reason',
];

/** What stands for the hash in the saved query; the console user replaces it. */
export const HASH_PLACEHOLDER = 'REPLACE_WITH_HASH';

/**
 * The Logs Insights query of one payload, by its identity hash (the Idempotency-Key, the batch
 * event id, the dead letter's hash): the merge's `payload lineage` line, naming the topic,
 * partition, offset and fetch run (correlationId) of every side, and the lines of its delivery
 * (`payload delivered`, retries, dead letter, replay). The parts are CDK's QueryString props, so
 * infra saves it as the query definition `<stage>-pipeline/payload-lineage`; the text
 * (tools/logs/lineage.ts) is what `npm run logs -- --payload HASH --aws` runs, placeholder replaced. `@message`
 * carries the whole line, sides included, whatever the side names are.
 */
export const PAYLOAD_LINEAGE_QUERY_PARTS = {
  fields: [...LOG_QUERY_FIELDS, 'outcome', '@message'],
  filterStatements: [`hash = "${HASH_PLACEHOLDER}"`],
  sort: '@timestamp asc',
  limit: 200,
};
