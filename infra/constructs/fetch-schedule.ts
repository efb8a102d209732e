import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule as RuleSchedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { DeployTarget } from '../config.ts';

export type FetchScheduleProps = {
  target: DeployTarget;
  fn: IFunction;
  rateMinutes: number;
  description: string;
  /**
   * Where runs that could not be handed to Lambda go; none for the sweeper, whose next run a
   * minute later does the same work.
   */
  missedRuns?: IQueue;
  /** False: created disabled (a stage whose endpoints are still placeholders). Default true. */
  enabled?: boolean;
};

/**
 * Runs a function (a fetch, a sweeper) on a rate, once per period, with no retries: the next
 * run does the work again. EventBridge Scheduler on AWS; an EventBridge rule on LocalStack,
 * whose Scheduler is a mock that never fires. Both are created as `id` in `scope`.
 */
export function scheduleFetch(scope: Construct, id: string, props: FetchScheduleProps): void {
  const rate = Duration.minutes(props.rateMinutes);
  const deadLetterQueue = props.missedRuns && { deadLetterQueue: props.missedRuns };
  if (props.target === 'localstack') {
    new Rule(scope, id, {
      description: props.description,
      enabled: props.enabled ?? true,
      schedule: RuleSchedule.rate(rate),
      targets: [new LambdaFunction(props.fn, { retryAttempts: 0, ...deadLetterQueue })],
    });
    return;
  }
  new Schedule(scope, id, {
    description: props.description,
    enabled: props.enabled ?? true,
    schedule: ScheduleExpression.rate(rate),
    target: new LambdaInvoke(props.fn, { retryAttempts: 0, ...deadLetterQueue }),
  });
}
