import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { configFromContext } from '../../infra/config.ts';
import { synthesize } from '../support/synth.ts';

/** The stack's own warnings for the default context (placeholder URLs, no alarm subscriber). */
const STACK_WARNINGS = new Set([
  'Annotation::pipeline:placeholder-endpoints',
  'Annotation::pipeline:no-alarm-subscriber',
]);

/*
 * The small profile (issue 22): the same architecture sized for the original's scale, so a
 * stage costs little while little happens. docs/deploy.md prices it; here, its shape.
 */

let small: Template;
let standard: Template;
let outdir: string;

beforeAll(() => {
  ({ template: small, outdir } = synthesize({
    'pipeline:stage': 'tiny',
    'pipeline:profile': 'small',
  }));
  ({ template: standard } = synthesize({ 'pipeline:stage': 'tiny' }));
});

const typesOf = (template: Template, type: string) => Object.keys(template.findResources(type));

describe('the small profile', () => {
  it('passes every cdk-nag AwsSolutions rule it does not acknowledge', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations: { ruleName: string }[] }[];
    };
    // The report lists warnings too: the one for the placeholder endpoints of the default
    // context is the stack's own (test/infra/silent-failures.test.ts), not a nag finding.
    const violations = report.pluginReports
      .flatMap((plugin) => plugin.violations)
      .filter((violation) => !STACK_WARNINGS.has(violation.ruleName));
    expect(violations).toEqual([]);
  });

  it('runs two kafka.t3.small brokers with IAM auth and TLS, instead of MSK Serverless', () => {
    small.resourceCountIs('AWS::MSK::ServerlessCluster', 0);
    small.resourceCountIs('AWS::MSK::Cluster', 1);
    small.hasResourceProperties('AWS::MSK::Cluster', {
      NumberOfBrokerNodes: 2,
      BrokerNodeGroupInfo: Match.objectLike({
        InstanceType: 'kafka.t3.small',
        StorageInfo: { EBSStorageInfo: { VolumeSize: 5 } },
      }),
      ClientAuthentication: {
        Sasl: { Iam: { Enabled: true } },
        Unauthenticated: { Enabled: false },
      },
      EncryptionInfo: { EncryptionInTransit: { ClientBroker: 'TLS', InCluster: true } },
    });
    small.hasResourceProperties('AWS::MSK::Configuration', {
      ServerProperties: Match.stringLikeRegexp('min\\.insync\\.replicas=1'),
    });
    standard.resourceCountIs('AWS::MSK::Cluster', 0);
  });

  it('creates the topics with two replicas, one on each broker', () => {
    small.hasResourceProperties('Custom::KafkaTopics', { replicationFactor: 2 });
  });

  it('reads the source topics without provisioned pollers or the controls only they have', () => {
    const mappings = small.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { Topics: Match.anyValue() },
    });
    expect(Object.keys(mappings)).toHaveLength(2);
    for (const mapping of Object.values(mappings)) {
      const properties = mapping.Properties as Record<string, unknown>;
      expect(properties.ProvisionedPollerConfig).toBeUndefined();
      expect(properties.FunctionResponseTypes).toBeUndefined();
      expect(properties.DestinationConfig).toBeUndefined();
      expect(properties.MaximumRetryAttempts).toBeUndefined();
    }
  });

  it('has the merge keep its own retry budget and failure topic, and alarms on what it writes there', () => {
    small.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'Merge',
          MERGE_MAPPING_MODE: 'on-demand',
          MERGE_RETRY_ATTEMPTS: '10',
        }),
      },
    });
    const failedBatches = Object.entries(small.findResources('AWS::CloudWatch::Alarm')).find(
      ([id]) => id.startsWith('MergeFailedBatches'),
    )?.[1];
    expect(JSON.stringify(failedBatches?.Properties)).toContain(
      '"MetricName":"FailedBatchRecords"',
    );
    expect(failedBatches?.Properties.Threshold).toBe(0);
    const standardMerge = Object.values(standard.findResources('AWS::Lambda::Function')).find(
      (fn) => fn.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'Merge',
    );
    expect(standardMerge?.Properties.Environment.Variables.MERGE_MAPPING_MODE).toBeUndefined();
  });

  it('goes out through one t4g.nano NAT instance with an encrypted volume, not a NAT gateway', () => {
    small.resourceCountIs('AWS::EC2::NatGateway', 0);
    small.resourceCountIs('AWS::EC2::Instance', 1);
    small.hasResourceProperties('AWS::EC2::Instance', {
      InstanceType: 't4g.nano',
      SourceDestCheck: false,
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3' } },
      ],
    });
    standard.resourceCountIs('AWS::EC2::NatGateway', 1);
    standard.resourceCountIs('AWS::EC2::Instance', 0);
  });

  it('has no interface endpoint, and lets the mappings reach Lambda and STS through the NAT', () => {
    small.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    small.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'MSK cluster',
      SecurityGroupEgress: Match.arrayWith([
        Match.objectLike({
          CidrIp: '0.0.0.0/0',
          FromPort: 443,
          ToPort: 443,
          Description: 'event source mapping to Lambda and STS through the NAT',
        }),
      ]),
    });
  });

  it('keeps a cache.t4g.micro node', () => {
    small.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      CacheNodeType: 'cache.t4g.micro',
      TransitEncryptionEnabled: true,
    });
  });

  it('keeps everything else the standard stage has: functions, queues, alarms, dashboard, queries', () => {
    // The alarms too, but the three on the mappings' EventCount/ErrorCount metrics, which
    // on-demand mappings do not turn on (the merge writes failed_<topic> itself there); and the
    // small stage watches what the standard one does not have: broker disks and the NAT instance.
    const descriptions = (template: Template) =>
      Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm) =>
        String(alarm.Properties?.AlarmDescription),
      );
    const standardOnly = /dropped records|failed to write a failed batch|fails to poll its topic/;
    const smallOnly = /data volume is over \d+% full|NAT instance fails its EC2 status checks/;
    const alarms = (template: Template) =>
      descriptions(template)
        .filter((text) => !standardOnly.test(text) && !smallOnly.test(text))
        .sort();
    expect(alarms(small)).toEqual(alarms(standard));
    expect(descriptions(standard).filter((text) => standardOnly.test(text))).toHaveLength(3);
    expect(descriptions(small).filter((text) => smallOnly.test(text))).toHaveLength(2);
    expect(descriptions(small).filter((text) => standardOnly.test(text))).toEqual([]);
    for (const type of [
      'AWS::Lambda::Function',
      'AWS::SQS::Queue',
      'AWS::CloudWatch::Dashboard',
      'AWS::Logs::QueryDefinition',
      'AWS::Scheduler::Schedule',
    ])
      expect({ type, count: typesOf(small, type).length }).toEqual({
        type,
        count: typesOf(standard, type).length,
      });
  });
});

describe('the interface endpoints', () => {
  it('leave STS out in every profile: nothing calls it', () => {
    for (const template of [small, standard]) {
      const services = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) =>
        JSON.stringify(e.Properties?.ServiceName),
      );
      expect(services.filter((service) => service.includes('.sts'))).toEqual([]);
    }
    expect(typesOf(standard, 'AWS::EC2::VPCEndpoint')).toHaveLength(2);
  });
});

describe('the profile setting', () => {
  it('is standard unless context names another, and refuses an unknown one', () => {
    expect(configFromContext(() => undefined).profile).toBe('standard');
    expect(() =>
      configFromContext((key) => (key === 'pipeline:profile' ? 'tiny' : undefined)),
    ).toThrow('context pipeline:profile must be standard or small, got tiny');
  });
});
