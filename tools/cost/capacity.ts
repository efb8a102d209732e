import type { PriceBook } from './price-book.ts';
import type { Shape, Workload } from './variable.ts';

/** A capacity the template's resources run out of, as the record rate it allows. */
export type Capacity = { what: string; maxRecordsPerHour: number; source: string };

/** The record rates the template's fixed capacities allow (MSK provisioned brokers, pollers). */
export function capacities(shape: Shape, work: Workload, prices: PriceBook): Capacity[] {
  const result: Capacity[] = [];
  const bytesPerHourPerRecord = work.recordBytes;
  if (shape.kafka.kind === 'provisioned') {
    const { brokers, instanceType, volumeGb } = shape.kafka;
    const perBrokerShare = shape.replicationFactor / brokers;
    if (instanceType === 'kafka.t3.small') {
      const mbps = prices.limit('msk.t3.small.baselineNetworkMBps');
      result.push({
        what: `${instanceType} baseline network (${mbps} MB/s a broker, each direction)`,
        maxRecordsPerHour: (mbps * 1e6 * 3600) / (bytesPerHourPerRecord * perBrokerShare),
        source: 'limits.msk.t3.small.baselineNetworkMBps',
      });
    }
    if (volumeGb > 0) {
      result.push({
        what: `broker storage (${volumeGb} GB a broker, ${Math.round(shape.retentionHours)} h retained, replication ${shape.replicationFactor})`,
        maxRecordsPerHour:
          (volumeGb * 1e9) / (bytesPerHourPerRecord * shape.retentionHours * perBrokerShare),
        source: 'the template: VolumeSize, topic retention, replication factor',
      });
    }
  }
  if (shape.provisionedPollers) {
    const mbps = shape.provisionedPollers.maximum * prices.limit('lambda.kafkaPollerMBps');
    result.push({
      what: `provisioned pollers (maximum ${shape.provisionedPollers.maximum} x ${prices.limit('lambda.kafkaPollerMBps')} MB/s)`,
      maxRecordsPerHour: (mbps * 1e6 * 3600) / bytesPerHourPerRecord,
      source: 'limits.lambda.kafkaPollerMBps',
    });
  }
  return result;
}

/** Fixed limits of a provisioned cluster that do not depend on the rate; messages when exceeded. */
export function fixedLimitProblems(shape: Shape, prices: PriceBook): string[] {
  if (shape.kafka.kind !== 'provisioned' || shape.kafka.instanceType !== 'kafka.t3.small')
    return [];
  const perBroker = (shape.partitions * shape.replicationFactor) / shape.kafka.brokers;
  const limit = prices.limit('msk.t3.small.partitionsPerBroker');
  return perBroker > limit
    ? [`${perBroker} partition replicas a broker, over the ${limit} recommended`]
    : [];
}

/**
 * Keys a node-based cache holds: its maxmemory less the reserved share AWS recommends for its
 * size, at the measured bytes per key. Undefined for a node type the data file has no memory for.
 */
export function cacheKeyCapacity(shape: Shape, prices: PriceBook): number | undefined {
  const type = shape.cacheNodeType;
  const key = `elasticache.maxmemoryGiB.${type}`;
  if (!type || !(key in prices.data.limits)) return undefined;
  const size = type.endsWith('.micro') ? 'micro' : type.endsWith('.small') ? 'small' : 'default';
  const usable = 1 - prices.limit(`elasticache.reservedMemoryPercent.${size}`) / 100;
  return (prices.limit(key) * 2 ** 30 * usable) / prices.workload('cacheBytesPerKey');
}
