import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../support/synth.ts';

/*
 * Failures that no other alarm hears: mappings that stop polling, a broker disk filling up, a
 * NAT instance that stopped forwarding; and the broker settings two brokers need for the
 * mappings' consumer groups to work at all.
 */

type MetricStat = {
  Metric: {
    MetricName: string;
    Namespace: string;
    Dimensions?: { Name: string; Value: unknown }[];
  };
  Period: number;
  Stat: string;
};
type AlarmProperties = {
  AlarmDescription?: string;
  Threshold?: number;
  EvaluationPeriods?: number;
  TreatMissingData?: string;
  Metrics?: { Id: string; Expression?: string; MetricStat?: MetricStat; Period?: number }[];
  MetricName?: string;
  Namespace?: string;
  Dimensions?: { Name: string; Value: unknown }[];
};

let small: Template;
let standard: Template;

beforeAll(() => {
  ({ template: small } = synthesize({ 'pipeline:stage': 'quiet', 'pipeline:profile': 'small' }));
  ({ template: standard } = synthesize({ 'pipeline:stage': 'quiet' }));
});

/**
 * The properties of the first resource of `type` whose logical id starts with `prefix`; throws
 * "no <kind> <prefix>*" when there is none.
 */
const propertiesOf = (template: Template, type: string, kind: string, prefix: string) => {
  const found = Object.entries(template.findResources(type)).find(([id]) => id.startsWith(prefix));
  if (!found) throw new Error(`no ${kind} ${prefix}*`);
  return found[1].Properties as Record<string, unknown>;
};
const alarmOf = (template: Template, prefix: string) =>
  propertiesOf(template, 'AWS::CloudWatch::Alarm', 'alarm', prefix) as AlarmProperties;
/** The texts of the stack's synth warnings that match `pattern`. */
const warningsMatching = (stack: ReturnType<typeof synthesize>['stack'], pattern: string) =>
  Annotations.fromStack(stack)
    .findWarning('*', Match.stringLikeRegexp(pattern))
    .map((warning) => String(warning.entry.data));
const statsOf = (alarm: AlarmProperties) =>
  (alarm.Metrics ?? []).flatMap((metric) => (metric.MetricStat ? [metric.MetricStat] : []));
const expressionOf = (alarm: AlarmProperties) =>
  alarm.Metrics?.find((metric) => metric.Expression !== undefined)?.Expression ?? '';

describe('a merge that is never invoked while records are published', () => {
  it.each([
    ['standard', () => standard],
    ['small', () => small],
  ])(
    'pages in the %s profile after two silent 15-minute periods with records published',
    (_, template) => {
      const alarm = alarmOf(template(), 'ObservabilityMergeNotInvoked');
      const stats = statsOf(alarm);
      expect(stats.map((stat) => stat.Metric.MetricName).sort()).toEqual([
        'Invocations',
        'Published',
        'Published',
      ]);
      for (const stat of stats) expect(stat.Period).toBe(900);
      // Published by any fetch, and no invocation at all (a missing Invocations point is zero).
      expect(expressionOf(alarm)).toMatch(
        /^IF\(SUM\(\[FILL\(p0, 0\), FILL\(p1, 0\)\]\) > 0 AND FILL\(invocations, 0\) == 0, 1, 0\)$/,
      );
      expect(alarm.EvaluationPeriods).toBe(2);
      expect(alarm.Threshold).toBe(0);
      expect(alarm.TreatMissingData).toBe('notBreaching');
    },
  );

  it.each([
    [60, 3600],
    [1440, 43_200],
  ])(
    'at a fetch every %i minutes, periods hold a fetch each (%i s), two of them within a day',
    (rate, seconds) => {
      const { template } = synthesize({
        'pipeline:stage': 'quiet',
        'pipeline:fetchRateMinutes': rate,
        'pipeline:alarmMissedFetchPeriods': 1,
      });
      const alarm = alarmOf(template, 'ObservabilityMergeNotInvoked');
      for (const stat of statsOf(alarm)) expect(stat.Period).toBe(seconds);
      expect(alarm.EvaluationPeriods).toBe(2);
      expect(alarm.AlarmDescription).toContain(`${seconds / 60}-minute periods`);
    },
  );
});

describe('mappings that cannot poll', () => {
  it('page in the standard profile, whose provisioned mappings publish PollingErrorCount', () => {
    const alarm = alarmOf(standard, 'MergePollingErrors');
    expect(statsOf(alarm).map((stat) => stat.Metric.MetricName)).toEqual([
      'PollingErrorCount',
      'PollingErrorCount',
    ]);
    expect(alarm.EvaluationPeriods).toBe(5);
    standard.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MetricsConfig: { Metrics: Match.arrayWith(['ErrorCount']) },
    });
  });

  it('are not alarmed on a metric the small profile does not turn on', () => {
    expect(() => alarmOf(small, 'MergePollingErrors')).toThrow(/no alarm/);
  });
});

describe('the small profile brokers', () => {
  it('replicate the internal topics on both brokers, so consumer groups can commit', () => {
    const configuration = Object.values(small.findResources('AWS::MSK::Configuration'))[0];
    const properties = String(configuration?.Properties?.ServerProperties).split('\n');
    expect(properties).toEqual(
      expect.arrayContaining([
        'offsets.topic.replication.factor=2',
        'transaction.state.log.replication.factor=2',
        'transaction.state.log.min.isr=1',
        'min.insync.replicas=1',
      ]),
    );
  });

  it('run the latest revision of their configuration, so a change of it reaches them', () => {
    const [id] = Object.keys(small.findResources('AWS::MSK::Configuration'));
    small.hasResourceProperties('AWS::MSK::Cluster', {
      ConfigurationInfo: { Revision: { 'Fn::GetAtt': [id, 'LatestRevision.Revision'] } },
    });
  });

  it('page when either broker data volume is over 80% full', () => {
    const alarm = alarmOf(small, 'StreamingBrokerDiskHigh');
    const stats = statsOf(alarm);
    expect(stats.map((stat) => stat.Metric.Namespace)).toEqual(['AWS/Kafka', 'AWS/Kafka']);
    expect(stats.map((stat) => stat.Metric.MetricName)).toEqual([
      'KafkaDataLogsDiskUsed',
      'KafkaDataLogsDiskUsed',
    ]);
    const brokerIds = stats.map(
      (stat) => stat.Metric.Dimensions?.find((d) => d.Name === 'Broker ID')?.Value,
    );
    expect(brokerIds).toEqual(['1', '2']);
    for (const stat of stats)
      expect(stat.Metric.Dimensions?.find((d) => d.Name === 'Cluster Name')?.Value).toBe(
        'quiet-pipeline-msk',
      );
    expect(expressionOf(alarm)).toBe('MAX([b1, b2])');
    expect(alarm.Threshold).toBe(80);
  });

  it('are not watched for disk in the standard profile, whose MSK Serverless has no disks', () => {
    expect(() => alarmOf(standard, 'StreamingBrokerDiskHigh')).toThrow(/no alarm/);
  });
});

describe('the small profile NAT instance', () => {
  it('calls out from one Elastic IP that follows the instance, given as an output', () => {
    const [instanceId] = Object.keys(small.findResources('AWS::EC2::Instance'));
    const addresses = Object.entries(small.findResources('AWS::EC2::EIP'));
    expect(addresses).toHaveLength(1);
    const [addressId, address] = addresses[0] ?? [];
    expect(address?.Properties).toMatchObject({ Domain: 'vpc', InstanceId: { Ref: instanceId } });
    // Allocated once the public subnets reach the internet gateway (the EIP page's DependsOn
    // rule: their default routes depend on the gateway attachment).
    expect(address?.DependsOn).toEqual(
      expect.arrayContaining([expect.stringMatching(/^NetworkVpcpublicSubnet1DefaultRoute/)]),
    );
    small.hasOutput('NatPublicIp', { Value: { Ref: addressId } });
    standard.resourceCountIs('AWS::EC2::EIP', 1); // the NAT gateway's own
    expect(Object.keys(standard.findOutputs('NatPublicIp'))).toEqual([]);
  });

  it('pages when it fails its EC2 status checks', () => {
    const [instanceId] = Object.keys(small.findResources('AWS::EC2::Instance'));
    const alarm = alarmOf(small, 'NetworkVpcpublicSubnet1NatInstanceStatusCheckFailed');
    expect(alarm.Namespace).toBe('AWS/EC2');
    expect(alarm.MetricName).toBe('StatusCheckFailed');
    expect(alarm.Dimensions).toEqual([{ Name: 'InstanceId', Value: { Ref: instanceId } }]);
  });

  it('retries the package install its forwarding depends on, then sets up forwarding', () => {
    const instance = Object.values(small.findResources('AWS::EC2::Instance'))[0];
    const script = JSON.stringify(instance?.Properties?.UserData);
    expect(script).toMatch(
      /for attempt in 1 2 3 4 5 6 7 8 9 10; do yum install iptables-services -y && break; sleep/,
    );
    expect(script).toContain('MASQUERADE');
    expect(script.indexOf('iptables-services -y && break')).toBeLessThan(
      script.indexOf('systemctl start iptables'),
    );
  });
});

describe('a stage deployed with the placeholder endpoints', () => {
  const schedules = (template: Template) =>
    Object.values(template.findResources('AWS::Scheduler::Schedule')).map((schedule) => ({
      description: String(schedule.Properties?.Description),
      state: schedule.Properties?.State,
    }));
  const warnings = (stack: ReturnType<typeof synthesize>['stack']) =>
    warningsMatching(stack, 'example\\.com');

  it('creates the fetch schedules disabled and says which keys are placeholders', () => {
    const { template, stack } = synthesize({ 'pipeline:stage': 'quiet' });
    const fetches = schedules(template).filter((s) => s.description.startsWith('Fetch'));
    expect(fetches.map((s) => s.state)).toEqual(['DISABLED', 'DISABLED']);
    const [warning] = warnings(stack);
    expect(warning).toContain(
      'pipeline:crmBaseUrl, pipeline:inventoryBaseUrl, pipeline:analyticsUrl',
    );
  });

  it('names only the keys still at a placeholder', () => {
    const { stack } = synthesize({
      'pipeline:stage': 'quiet',
      'pipeline:crmBaseUrl': 'https://crm.internal.test/api',
      'pipeline:inventoryBaseUrl': 'https://inventory.internal.test/api',
    });
    const [warning] = warnings(stack);
    expect(warning).toMatch(/^pipeline:analyticsUrl still point/);
  });

  it('enables them once every endpoint is real, with no warning', () => {
    const { template, stack } = synthesize({
      'pipeline:stage': 'quiet',
      'pipeline:crmBaseUrl': 'https://crm.internal.test/api',
      'pipeline:inventoryBaseUrl': 'https://inventory.internal.test/api',
      'pipeline:analyticsUrl': 'https://analytics.internal.test/analytics',
    });
    expect(schedules(template).map((s) => s.state)).toEqual(['ENABLED', 'ENABLED', 'ENABLED']);
    expect(warnings(stack)).toEqual([]);
  });
});

describe('a stage whose alarms reach no one', () => {
  const subscriberWarnings = (stack: ReturnType<typeof synthesize>['stack']) =>
    warningsMatching(stack, 'no pipeline:alarmEmail');

  it('is warned at synth, with the topic to subscribe to as an output', () => {
    const { template, stack } = synthesize({ 'pipeline:stage': 'quiet' });
    const [warning] = subscriberWarnings(stack);
    expect(warning).toMatch(/the \d+ alarms publish to the topic of output AlarmTopicArn/);
    template.hasOutput('AlarmTopicArn', {
      Value: { Ref: Match.stringLikeRegexp('^ObservabilityAlarms') },
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('is not warned once an email subscribes to the topic', () => {
    const { template, stack } = synthesize({
      'pipeline:stage': 'quiet',
      'pipeline:alarmEmail': 'ops@example.org',
    });
    expect(subscriberWarnings(stack)).toEqual([]);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.org',
    });
  });
});

describe('the functions that never reach Kafka', () => {
  const groupsOf = (template: Template, prefix: string) => {
    const { VpcConfig } = propertiesOf(template, 'AWS::Lambda::Function', 'function', prefix) as {
      VpcConfig: { SecurityGroupIds: unknown[] };
    };
    return VpcConfig.SecurityGroupIds.map((group) => JSON.stringify(group));
  };
  const ingressFrom = (template: Template, target: RegExp, port: number) =>
    Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((rule) => rule.Properties as Record<string, unknown>)
      .filter((rule) => target.test(JSON.stringify(rule.GroupId)) && rule.FromPort === port)
      .map((rule) => JSON.stringify(rule.SourceSecurityGroupId));

  it.each([
    ['standard', () => standard],
    ['small', () => small],
  ])('(replay, sweeper) reach Redis and not the brokers in the %s profile', (_, template) => {
    const replay = groupsOf(template(), 'ReplayFunction');
    expect(groupsOf(template(), 'SweepmainFunction')).toEqual(replay);
    expect(replay).toEqual([expect.stringContaining('NetworkDeliverySg')]);
    const [delivery] = replay;
    expect(ingressFrom(template(), /NetworkKafkaSg/, 9098)).not.toContain(delivery);
    expect(ingressFrom(template(), /NetworkCacheSg/, 6380)).toContain(delivery);
    // The merge and the redrive read topics: they keep the group the brokers admit.
    const merge = groupsOf(template(), 'MergeFunction');
    expect(groupsOf(template(), 'RedriveFunction')).toEqual(merge);
    expect(ingressFrom(template(), /NetworkKafkaSg/, 9098)).toContain(merge[0]);
  });
});
