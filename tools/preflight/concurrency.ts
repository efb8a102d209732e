import { GetAccountSettingsCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { CheckResult } from './checks.ts';

/**
 * Concurrent invocations one Kafka event poller drives at most in provisioned mode
 * (https://docs.aws.amazon.com/lambda/latest/dg/kafka-scaling-modes.html: "up to 5 MB/sec of
 * throughput or up to 5 concurrent invocations"); Lambda also caps a mapping's pollers at the
 * topic's partitions.
 */
export const INVOCATIONS_PER_KAFKA_POLLER = 5;

/** What the stack can run at once, by what runs it. */
export type ConcurrencyDemand = {
  /** Kafka event source mappings of the merge (one per source topic). */
  mappings: number;
  /**
   * `provisioned`: MaximumPollers of each mapping (pipeline:mergeMaxPollers), 5 invocations
   * each. `on-demand` (the small profile): Lambda scales the pollers itself and documents no
   * maximum, but keeps each partition in order, so a mapping runs at most one invocation per
   * partition at a time.
   */
  pollers: { mode: 'provisioned'; maxPollers: number } | { mode: 'on-demand' };
  /** Partitions of each source topic (pipeline:sourceTopicPartitions). */
  partitions: number;
  /** Scheduled functions that may run at the same moment (each fetch, the sweeper). */
  scheduled: number;
  /** The replay function's SQS trigger (its maxConcurrency), when it is enabled. */
  replay: number;
  /** Functions run by hand (the re-drive). */
  manual: number;
};

/** The executions the stack can use at once, and how they add up (for the report). */
export function peakConcurrency(demand: ConcurrencyDemand): { total: number; parts: string } {
  const rest = `scheduled ${demand.scheduled}, replay ${demand.replay}, re-drive ${demand.manual}`;
  const others = demand.scheduled + demand.replay + demand.manual;
  if (demand.pollers.mode === 'on-demand') {
    const merge = demand.mappings * demand.partitions;
    return {
      total: merge + others,
      parts: `merge ${demand.mappings} on-demand mappings x ${demand.partitions} partitions (one invocation each at a time) = ${merge}, ${rest}`,
    };
  }
  const pollers = Math.min(demand.pollers.maxPollers, demand.partitions);
  const merge = demand.mappings * pollers * INVOCATIONS_PER_KAFKA_POLLER;
  return {
    total: merge + others,
    parts: `merge ${demand.mappings} mappings x ${pollers} pollers x ${INVOCATIONS_PER_KAFKA_POLLER} = ${merge}, ${rest}`,
  };
}

/**
 * Warns when the account's unreserved concurrency (GetAccountSettings) is below what the
 * mappings and schedules can use at once: the merge is then throttled (its lag grows) and
 * scheduled runs may be throttled too. Not a failure: the stack deploys and works, slower.
 */
export async function checkConcurrencyDemand(
  lambda: LambdaClient,
  demand: ConcurrencyDemand,
): Promise<CheckResult> {
  const check = 'Lambda concurrency at peak';
  const settings = await lambda.send(new GetAccountSettingsCommand({}));
  const limit = settings.AccountLimit?.ConcurrentExecutions ?? 0;
  const unreserved = settings.AccountLimit?.UnreservedConcurrentExecutions ?? limit;
  const { total, parts } = peakConcurrency(demand);
  const lower =
    demand.pollers.mode === 'on-demand'
      ? 'pipeline:sourceTopicPartitions'
      : 'pipeline:mergeMaxPollers';
  if (unreserved < total)
    return {
      check,
      status: 'warn',
      detail: `the stack can use ${total} executions at once (${parts}) but the account has ${unreserved} unreserved of ${limit}: ask for more (Service Quotas, Lambda "Concurrent executions") or lower ${lower}`,
    };
  return {
    check,
    status: 'ok',
    detail: `${unreserved} unreserved executions cover the ${total} the stack can use at once (${parts})`,
  };
}
