import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import type { MergeEnvironment } from '../../shared/config.ts';
import type { JoinDefinition, MissingSidePolicy } from '../../shared/sources/join.ts';
import type { DeployTarget } from '../config.ts';
import { type DeliveryBindings, DeliveryFunction } from './delivery-function.ts';
import { scheduleFetch } from './fetch-schedule.ts';
import type { FunctionPlacement } from './pipeline-function.ts';
import { sweepMetric } from './pipeline-metrics.ts';

export type JoinSweeperProps = FunctionPlacement & {
  join: JoinDefinition;
  /** The merge's settings: the sweeper delivers and dead-letters as the merge does. */
  environment: MergeEnvironment;
  delivery: DeliveryBindings;
  target: DeployTarget;
  /** Alarm when an id has been missing a required side for longer than this. */
  alarmOldestPendingMinutes: number;
};

/**
 * The join's sweeper (built as `Sweep-<join>`), every minute: applies its missing-side policy
 * (emit or drop after the grace period) and reports its pending ids. It needs neither Kafka nor
 * any topic: its role gets no Kafka grant.
 */
export class JoinSweeper extends DeliveryFunction {
  readonly join: string;
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: JoinSweeperProps) {
    const { join } = props;
    super(scope, id, {
      entry: 'functions/sweep/index.ts',
      description: `Sweeps join ${join.name}: its missing-side policy (${policyText(join.missing)}) and its pending-id metrics`,
      vpc: props.vpc,
      securityGroup: props.securityGroup,
      logRetention: props.logRetention,
      logGroupName: props.logGroupName,
      timeout: Duration.minutes(1),
      environment: props.environment,
      delivery: props.delivery,
    });
    this.join = join.name;
    // A failed sweep is not retried: the next one, a minute later, redoes its work.
    this.fn.configureAsyncInvoke({ retryAttempts: 0 });
    scheduleFetch(scope, `Schedule-sweep-${join.name}`, {
      target: props.target,
      fn: this.fn,
      rateMinutes: 1,
      description: `Sweep join ${join.name} every minute`,
    });
    const threshold = props.alarmOldestPendingMinutes * 60;
    this.alarms = [
      new Alarm(this, 'OldestPending', {
        alarmDescription: `An id of join ${join.name} has been missing a required side for more than ${props.alarmOldestPendingMinutes} min (npm run pending -- --aws lists them), or its sweeper has reported nothing for 5 min.`,
        // The sweeper reports every minute, 0 when nothing is pending: a period in which it ran
        // and reported nothing is a failing sweeper, shown as just over the threshold.
        metric: new MathExpression({
          expression: `IF(FILL(runs, 0) > 0, FILL(oldest, ${threshold + 1}), 0)`,
          usingMetrics: {
            runs: this.fn.metricInvocations({ period: Duration.minutes(5), statistic: 'Sum' }),
            oldest: sweepMetric('OldestPendingAge', join.name),
          },
          period: Duration.minutes(5),
          label: `join ${join.name}: oldest pending age (s)`,
        }),
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // No data: the sweeper was not invoked in the window (a stack minutes old, or its
        // schedule turned off), which is neither a stuck id nor a failing sweep.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
  }
}

/** `wait`, `emit after 600s`, `drop after 7d`: the policy as the description shows it. */
function policyText(missing: MissingSidePolicy): string {
  if (missing.policy === 'wait') return 'wait';
  const seconds = Math.round(missing.afterMs / 1000);
  return `${missing.policy} after ${seconds}s`;
}
