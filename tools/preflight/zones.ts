import {
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import type { CheckResult } from './checks.ts';

/**
 * Which Availability Zones, by AZ ID, can hold the stack's MSK brokers and cache nodes.
 *
 * What AWS offers to ask, and what it does not:
 * - EC2 DescribeAvailabilityZones maps this account's zone names to AZ IDs (use1-az1, …), which
 *   name the same physical zone in every account; names do not
 *   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeAvailabilityZones.html).
 * - MSK has no API that lists the zones a broker type is offered in. Its API reference says
 *   client subnets cannot be in use1-az3 (BrokerNodeGroupInfo.ClientSubnets,
 *   https://docs.aws.amazon.com/msk/1.0/apireference/clusters.html#clusters-model-brokernodegroupinfo):
 *   that documented exclusion is a failure here.
 * - ElastiCache has no such API either. Brokers (the small profile's kafka.t3.small) and cache
 *   nodes (cache.t4g.small) run on the EC2 family of the same name, and EC2
 *   DescribeInstanceTypeOfferings says per AZ ID where that family is offered
 *   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html).
 *   A zone without it cannot host the node, but one with it may still lack the managed
 *   service's capacity: that check is an inference, reported as a warning.
 * - MSK Serverless has no broker type and no documented zone list; only the zone's state counts.
 */

/** AZ IDs MSK documents as unusable for client subnets (provisioned clusters). */
export const MSK_EXCLUDED_ZONE_IDS = ['use1-az3'] as const;

export type ZoneId = { name: string; id: string; state: string };

/** The region's Availability Zones (not Local or Wavelength Zones), with their AZ IDs. */
export async function zonesOf(ec2: EC2Client): Promise<ZoneId[]> {
  const { AvailabilityZones = [] } = await ec2.send(
    new DescribeAvailabilityZonesCommand({
      Filters: [{ Name: 'zone-type', Values: ['availability-zone'] }],
    }),
  );
  return AvailabilityZones.flatMap((zone) =>
    zone.ZoneName && zone.ZoneId
      ? [{ name: zone.ZoneName, id: zone.ZoneId, state: zone.State ?? 'unknown' }]
      : [],
  );
}

/** The EC2 instance type a managed node type runs on: kafka.t3.small -> t3.small. */
export function ec2TypeOf(nodeType: string): string {
  return nodeType.replace(/^(kafka|cache)\./, '');
}

/** Per EC2 instance type, the AZ IDs that offer it (every page of the answer). */
export async function offeringsByZoneId(
  ec2: EC2Client,
  instanceTypes: string[],
): Promise<Map<string, Set<string>>> {
  const offered = new Map(instanceTypes.map((type) => [type, new Set<string>()]));
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstanceTypeOfferingsCommand({
        LocationType: 'availability-zone-id',
        Filters: [{ Name: 'instance-type', Values: instanceTypes }],
        ...(NextToken && { NextToken }),
      }),
    );
    for (const offering of page.InstanceTypeOfferings ?? []) {
      if (offering.InstanceType && offering.Location)
        offered.get(offering.InstanceType)?.add(offering.Location);
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return offered;
}

/** What the stack will put in its zones. */
export type ZoneNeeds = {
  /** MSK broker types (the small profile's kafka.t3.small); empty for MSK Serverless. */
  brokerTypes: string[];
  /** The cache node type (cache.t4g.small, …). */
  cacheNodeType: string;
  /** How many zones the stack spreads over (its subnets). */
  zoneCount: number;
};

/** Why a zone cannot (fail) or may not (warn) hold what the stack needs; empty when it can. */
function zoneProblems(
  zone: ZoneId,
  needs: ZoneNeeds,
  offered: Map<string, Set<string>>,
): { status: 'fail' | 'warn'; reason: string }[] {
  const problems: { status: 'fail' | 'warn'; reason: string }[] = [];
  if (zone.state !== 'available')
    problems.push({ status: 'fail', reason: `its state is ${zone.state}` });
  if (
    needs.brokerTypes.length > 0 &&
    (MSK_EXCLUDED_ZONE_IDS as readonly string[]).includes(zone.id)
  )
    problems.push({ status: 'fail', reason: 'MSK documents it as unusable for client subnets' });
  for (const nodeType of [...needs.brokerTypes, needs.cacheNodeType]) {
    const ec2Type = ec2TypeOf(nodeType);
    if (!offered.get(ec2Type)?.has(zone.id))
      problems.push({
        status: 'warn',
        reason: `EC2 offers no ${ec2Type} there, which ${nodeType} runs on`,
      });
  }
  return problems;
}

/**
 * Checks the chosen AZ IDs (or, with none chosen, names the ones to pass) against what the
 * region offers for the stack's broker types and cache node type.
 */
export async function checkZones(
  ec2: EC2Client,
  region: string,
  needs: ZoneNeeds,
  chosen: string[] | undefined,
  contextKey: string,
): Promise<CheckResult[]> {
  const zones = await zonesOf(ec2);
  const instanceTypes = [...new Set([...needs.brokerTypes, needs.cacheNodeType].map(ec2TypeOf))];
  const offered = await offeringsByZoneId(ec2, instanceTypes);
  const what = [...needs.brokerTypes, needs.cacheNodeType].join(', ');
  const usable = zones.filter((zone) => zoneProblems(zone, needs, offered).length === 0);
  const usableText = usable.map((zone) => `${zone.id} (${zone.name})`).join(', ') || 'none';
  if (!chosen || chosen.length === 0) {
    const picked = usable.slice(0, needs.zoneCount);
    const pick = picked.map((zone) => zone.id);
    return [
      pick.length < needs.zoneCount
        ? {
            check: 'Availability Zones',
            status: 'fail',
            detail: `only ${usable.length} zone(s) of ${region} can hold ${what} (${usableText}); the stack needs ${needs.zoneCount}`,
          }
        : {
            check: 'Availability Zones',
            status: 'warn',
            // The stack takes zone names (this account's names of those AZ IDs).
            detail: `no zones chosen: zone names map to different zones per account. Zones of ${region} that can hold ${what}: ${usableText}. Pass -c ${contextKey}=${picked.map((zone) => zone.name).join(',')} (${pick.join(', ')})`,
          },
    ];
  }
  const results: CheckResult[] = [];
  if (chosen.length < needs.zoneCount)
    results.push({
      check: 'Availability Zones',
      status: 'fail',
      detail: `${chosen.length} zone(s) chosen, the stack needs ${needs.zoneCount} distinct ones`,
    });
  for (const id of chosen) {
    // An AZ ID (--zones) or this account's name for one (the stack's pipeline:availabilityZones).
    const zone = zones.find((candidate) => candidate.id === id || candidate.name === id);
    if (!zone) {
      results.push({
        check: `zone ${id}`,
        status: 'fail',
        detail: `not an Availability Zone ID or name of ${region} (${zones.map((z) => `${z.id} (${z.name})`).join(', ')})`,
      });
      continue;
    }
    const problems = zoneProblems(zone, needs, offered);
    const status = problems.some((p) => p.status === 'fail')
      ? 'fail'
      : problems.length > 0
        ? 'warn'
        : 'ok';
    results.push({
      check: `zone ${zone.id} (${zone.name})`,
      status,
      detail:
        status === 'ok'
          ? `can hold ${what}`
          : `${problems.map((p) => p.reason).join('; ')}. Zones that can: ${usableText}`,
    });
  }
  return results;
}
