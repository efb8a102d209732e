import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { configFromContext } from '../../infra/config.ts';
import { synthesize } from '../support/synth.ts';

/*
 * What AWS measures and what the stack does about it (issue 23): the alarms that say records were
 * dropped or quarantined, alarms that are quiet on a healthy fresh deploy, the parking queue, and
 * the permissions the Kafka failure destination needs.
 */

type AlarmProperties = {
  TreatMissingData?: string;
  AlarmActions?: unknown[];
  OKActions?: unknown[];
  Metrics?: { Id: string; Expression?: string; MetricStat?: { Metric: { MetricName: string } } }[];
  MetricName?: string;
};
type Statement = { Action: string | string[] };

let template: Template;
let alarms: Record<string, AlarmProperties>;

beforeAll(() => {
  ({ template } = synthesize({ 'pipeline:stage': 'alarms' }));
  alarms = Object.fromEntries(
    Object.entries(template.findResources('AWS::CloudWatch::Alarm')).map(([id, resource]) => [
      id,
      resource.Properties as AlarmProperties,
    ]),
  );
});

const alarmNamed = (prefix: string): AlarmProperties => {
  const found = Object.entries(alarms).find(([id]) => id.startsWith(prefix));
  if (!found) throw new Error(`no alarm ${prefix}* in ${Object.keys(alarms).join(', ')}`);
  return found[1];
};
const metricNamesOf = (alarm: AlarmProperties) =>
  alarm.Metrics?.flatMap((metric) => metric.MetricStat?.Metric.MetricName ?? []) ?? [
    alarm.MetricName,
  ];

describe('the alarms of a healthy fresh deploy', () => {
  it('treat no missing data as breaching: each one reads silence as health or as not yet run', () => {
    // NoFetchSuccess and OldestPending used to breach on missing data and so were in ALARM from
    // creation; their expressions now turn "ran and failed" into a value and leave silence missing.
    const breaching = Object.entries(alarms)
      .filter(([, alarm]) => alarm.TreatMissingData !== 'notBreaching')
      .map(([id]) => id);
    expect(breaching).toEqual([]);
  });

  it('page on a fetch that ran and never succeeded, not on one that has not run yet', () => {
    const alarm = alarmNamed('FetchcrmNoFetchSuccess');
    expect(alarm.Metrics?.find((metric) => metric.Expression)?.Expression).toBe(
      'IF(FILL(runs, 0) > 0, FILL(succeeded, 0), 1)',
    );
    expect(metricNamesOf(alarm).sort()).toEqual(['FetchSucceeded', 'Invocations']);
  });

  it('page on a sweeper that ran and reported nothing, as over the threshold', () => {
    const alarm = alarmNamed('SweepmainOldestPending');
    expect(alarm.Metrics?.find((metric) => metric.Expression)?.Expression).toBe(
      'IF(FILL(runs, 0) > 0, FILL(oldest, 3601), 0)',
    );
  });

  it('count missed fetch runs sent in the period, not messages left in a queue nothing drains', () => {
    expect(alarmNamed('ObservabilityMissedFetchRuns').MetricName).toBe('NumberOfMessagesSent');
  });

  it('notify the alarm topic when each alarm fires and when it clears', () => {
    for (const [id, alarm] of Object.entries(alarms)) {
      expect({ id, actions: alarm.AlarmActions?.length }).toEqual({ id, actions: 1 });
      expect({ id, ok: alarm.OKActions }).toEqual({ id, ok: alarm.AlarmActions });
    }
  });
});

describe('records that leave the pipeline', () => {
  it('are alarmed when a mapping drops them or cannot write its failure topic', () => {
    expect(metricNamesOf(alarmNamed('MergeDroppedRecords'))).toEqual([
      'DroppedEventCount',
      'DroppedEventCount',
    ]);
    expect(metricNamesOf(alarmNamed('MergeFailureDestinationErrors'))).toEqual([
      'OnFailureDestinationDeliveryErrorCount',
      'OnFailureDestinationDeliveryErrorCount',
    ]);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      Topics: ['customer_data'],
      MetricsConfig: { Metrics: ['EventCount', 'ErrorCount'] },
    });
  });

  it('are alarmed when quarantined, by any fetch or the merge', () => {
    const alarm = alarmNamed('ObservabilityRecordsQuarantined');
    expect(metricNamesOf(alarm)).toEqual(['Quarantined', 'Quarantined', 'Quarantined']);
  });

  it('park a letter the replay failed five times, and alarm on it', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'alarms-pipeline-dead-letters',
      RedrivePolicy: {
        deadLetterTargetArn: {
          'Fn::GetAtt': [Match.stringLikeRegexp('^DeadLetterParking'), 'Arn'],
        },
        maxReceiveCount: 5,
      },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'alarms-pipeline-dead-letters-parked',
      SqsManagedSseEnabled: true,
    });
    expect(alarmNamed('ReplayDeadLettersParked').MetricName).toBe(
      'ApproximateNumberOfMessagesVisible',
    );
    template.hasOutput('DeadLetterParkingQueueUrl', Match.anyValue());
  });
});

describe('the permissions AWS documents', () => {
  const actions = () =>
    Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
      (policy.Properties.PolicyDocument.Statement as Statement[]).flatMap((statement) =>
        Array.isArray(statement.Action) ? statement.Action : [statement.Action],
      ),
    );

  it('let the merge role describe the cluster, as the Kafka failure destination needs', () => {
    expect(actions()).toContain('kafka-cluster:DescribeCluster');
  });

  it('grant GetSecretValue, and not DescribeSecret, which nothing calls', () => {
    expect(actions()).toContain('secretsmanager:GetSecretValue');
    expect(actions()).not.toContain('secretsmanager:DescribeSecret');
  });
});

describe('the availability zones', () => {
  it('are the two a context names (npm run preflight says which)', () => {
    const { template: placed } = synthesize({
      'pipeline:availabilityZones': 'us-east-1b,us-east-1c',
    });
    placed.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: 'us-east-1c' });
    expect(() =>
      configFromContext((key) => (key === 'pipeline:availabilityZones' ? 'use1-az1' : undefined)),
    ).toThrow(/pipeline:availabilityZones must name two zones/);
  });
});
