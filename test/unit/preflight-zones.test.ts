import {
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { checkConcurrencyDemand, peakConcurrency } from '../../tools/preflight/concurrency.ts';
import { checkZones, ec2TypeOf, offeringsByZoneId } from '../../tools/preflight/zones.ts';

const ec2Mock = mockClient(EC2Client);
const lambdaMock = mockClient(LambdaClient);
afterEach(() => {
  ec2Mock.reset();
  lambdaMock.reset();
});
const ec2 = new EC2Client({ region: 'us-east-1' });
const lambda = new LambdaClient({ region: 'us-east-1' });
const KEY = 'pipeline:availabilityZones';

/** us-east-1 as one account sees it: its names map to other AZ IDs than in the next account. */
function usEast1(offers: Record<string, string[]>) {
  ec2Mock.on(DescribeAvailabilityZonesCommand).resolves({
    AvailabilityZones: [
      { ZoneName: 'us-east-1a', ZoneId: 'use1-az3', State: 'available' },
      { ZoneName: 'us-east-1b', ZoneId: 'use1-az1', State: 'available' },
      { ZoneName: 'us-east-1c', ZoneId: 'use1-az2', State: 'available' },
      { ZoneName: 'us-east-1d', ZoneId: 'use1-az4', State: 'impaired' },
      { ZoneName: 'us-east-1e', ZoneId: 'use1-az6', State: 'available' },
    ],
  });
  ec2Mock.on(DescribeInstanceTypeOfferingsCommand).resolves({
    InstanceTypeOfferings: Object.entries(offers).flatMap(([type, zones]) =>
      zones.map((zone) => ({
        InstanceType: type as never,
        LocationType: 'availability-zone-id' as const,
        Location: zone,
      })),
    ),
  });
}
const small = { brokerTypes: ['kafka.t3.small'], cacheNodeType: 'cache.t4g.small', zoneCount: 2 };
const everywhere = ['use1-az1', 'use1-az2', 'use1-az3', 'use1-az4', 'use1-az6'];

describe('preflight: Availability Zones by AZ ID', () => {
  it('asks EC2 per AZ ID for the instance types the managed nodes run on', async () => {
    usEast1({ 't3.small': everywhere, 't4g.small': everywhere });
    await checkZones(ec2, 'us-east-1', small, ['use1-az1', 'use1-az2'], KEY);
    expect(ec2Mock.commandCalls(DescribeInstanceTypeOfferingsCommand)[0]?.args[0].input).toEqual({
      LocationType: 'availability-zone-id',
      Filters: [{ Name: 'instance-type', Values: ['t3.small', 't4g.small'] }],
    });
    expect(ec2TypeOf('kafka.t3.small')).toBe('t3.small');
    expect(ec2TypeOf('cache.t4g.micro')).toBe('t4g.micro');
  });

  it('passes chosen zones that are available and offer every node type', async () => {
    usEast1({ 't3.small': everywhere, 't4g.small': everywhere });
    const results = await checkZones(ec2, 'us-east-1', small, ['use1-az1', 'use1-az2'], KEY);
    expect(results.map((r) => [r.check, r.status])).toEqual([
      ['zone use1-az1 (us-east-1b)', 'ok'],
      ['zone use1-az2 (us-east-1c)', 'ok'],
    ]);
  });

  it('fails use1-az3 for MSK brokers, as MSK documents, and names the zones that can', async () => {
    usEast1({ 't3.small': everywhere, 't4g.small': everywhere });
    const [az3] = await checkZones(ec2, 'us-east-1', small, ['use1-az3', 'use1-az1'], KEY);
    expect(az3).toMatchObject({ check: 'zone use1-az3 (us-east-1a)', status: 'fail' });
    expect(az3?.detail).toContain('MSK documents it as unusable for client subnets');
    expect(az3?.detail).toContain(
      'Zones that can: use1-az1 (us-east-1b), use1-az2 (us-east-1c), use1-az6 (us-east-1e)',
    );
  });

  it('does not hold use1-az3 against MSK Serverless, which documents no zone list', async () => {
    usEast1({ 't4g.small': everywhere });
    const serverless = { brokerTypes: [], cacheNodeType: 'cache.t4g.small', zoneCount: 2 };
    const [az3] = await checkZones(ec2, 'us-east-1', serverless, ['use1-az3', 'use1-az1'], KEY);
    expect(az3?.status).toBe('ok');
  });

  it('warns where EC2 offers no Graviton host for the cache node type, and fails an impaired or unknown zone', async () => {
    usEast1({ 't3.small': everywhere, 't4g.small': ['use1-az1', 'use1-az2', 'use1-az4'] });
    const results = await checkZones(
      ec2,
      'us-east-1',
      small,
      ['use1-az6', 'use1-az4', 'usw2-az1'],
      KEY,
    );
    expect(results.map((r) => [r.check, r.status])).toEqual([
      ['zone use1-az6 (us-east-1e)', 'warn'],
      ['zone use1-az4 (us-east-1d)', 'fail'],
      ['zone usw2-az1', 'fail'],
    ]);
    expect(results[0]?.detail).toContain(
      'EC2 offers no t4g.small there, which cache.t4g.small runs on',
    );
    expect(results[1]?.detail).toContain('its state is impaired');
    expect(results[2]?.detail).toContain('not an Availability Zone ID or name of us-east-1');
  });

  it("reads the stack's zone names as this account's AZ IDs", async () => {
    usEast1({ 't3.small': everywhere, 't4g.small': ['use1-az2', 'use1-az6'] });
    const results = await checkZones(ec2, 'us-east-1', small, ['us-east-1c', 'us-east-1a'], KEY);
    expect(results.map((r) => [r.check, r.status])).toEqual([
      ['zone use1-az2 (us-east-1c)', 'ok'],
      ['zone use1-az3 (us-east-1a)', 'fail'],
    ]);
  });

  it('with no zones chosen, prints the zone names to pass, with their AZ IDs', async () => {
    usEast1({ 't3.small': everywhere, 't4g.small': ['use1-az2', 'use1-az6'] });
    const [result] = await checkZones(ec2, 'us-east-1', small, undefined, KEY);
    expect(result?.status).toBe('warn');
    expect(result?.detail).toContain(
      'Pass -c pipeline:availabilityZones=us-east-1c,us-east-1e (use1-az2, use1-az6)',
    );
  });

  it('fails when fewer zones than the stack needs can hold it, and when fewer are chosen', async () => {
    usEast1({ 't3.small': everywhere, 't4g.small': ['use1-az2'] });
    const [none] = await checkZones(ec2, 'us-east-1', small, undefined, KEY);
    expect(none).toMatchObject({ status: 'fail' });
    expect(none?.detail).toContain('only 1 zone(s) of us-east-1 can hold');
    const [one] = await checkZones(ec2, 'us-east-1', small, ['use1-az2'], KEY);
    expect(one).toMatchObject({ check: 'Availability Zones', status: 'fail' });
  });

  it('reads every page of the offerings', async () => {
    ec2Mock
      .on(DescribeInstanceTypeOfferingsCommand)
      .resolvesOnce({
        InstanceTypeOfferings: [{ InstanceType: 't4g.small', Location: 'use1-az1' }],
        NextToken: 'more',
      })
      .resolvesOnce({
        InstanceTypeOfferings: [{ InstanceType: 't4g.small', Location: 'use1-az2' }],
      });
    const offered = await offeringsByZoneId(ec2, ['t4g.small']);
    expect([...(offered.get('t4g.small') ?? [])]).toEqual(['use1-az1', 'use1-az2']);
    expect(
      ec2Mock.commandCalls(DescribeInstanceTypeOfferingsCommand)[1]?.args[0].input.NextToken,
    ).toBe('more');
  });
});

describe('preflight: Lambda concurrency at peak', () => {
  const demand = {
    mappings: 2,
    pollers: { mode: 'provisioned', maxPollers: 2 },
    partitions: 6,
    scheduled: 3,
    replay: 2,
    manual: 1,
  } as const;

  it('adds up mappings x pollers x 5 invocations, the schedules, the replay and the re-drive', () => {
    expect(peakConcurrency(demand).total).toBe(2 * 2 * 5 + 3 + 2 + 1);
    // Lambda caps a mapping's pollers at the topic's partitions.
    const capped = {
      ...demand,
      pollers: { mode: 'provisioned', maxPollers: 10 },
      partitions: 3,
    } as const;
    expect(peakConcurrency(capped).total).toBe(2 * 3 * 5 + 6);
  });

  it('counts one invocation per partition of an on-demand mapping, and names partitions as the lever', async () => {
    const onDemand = { ...demand, pollers: { mode: 'on-demand' } } as const;
    expect(peakConcurrency(onDemand).total).toBe(2 * 6 + 3 + 2 + 1);
    lambdaMock.on(GetAccountSettingsCommand).resolves({
      AccountLimit: { ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 },
    });
    const result = await checkConcurrencyDemand(lambda, onDemand);
    expect(result.status).toBe('warn');
    expect(result.detail).toContain('2 on-demand mappings x 6 partitions');
    expect(result.detail).toMatch(/lower pipeline:sourceTopicPartitions$/);
  });

  it("warns on a new account's 10 executions, which the stack's 26 exceed", async () => {
    lambdaMock.on(GetAccountSettingsCommand).resolves({
      AccountLimit: { ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 },
    });
    const result = await checkConcurrencyDemand(lambda, demand);
    expect(result.status).toBe('warn');
    expect(result.detail).toContain('the stack can use 26 executions at once');
    expect(result.detail).toContain('has 10 unreserved of 10');
  });

  it('passes when the unreserved executions cover the peak', async () => {
    lambdaMock.on(GetAccountSettingsCommand).resolves({
      AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 26 },
    });
    expect(await checkConcurrencyDemand(lambda, demand)).toMatchObject({ status: 'ok' });
  });
});
