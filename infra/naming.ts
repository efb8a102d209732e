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
