import { beforeAll, describe, expect, it } from 'vitest';
import { LOCALSTACK_ENDPOINTS } from '../../infra/localstack.ts';
import { synthesize } from '../support/synth.ts';

/*
 * The aws target is the default and carries nothing of the localstack target. (No hash of the
 * whole template: a snapshot passes whatever changed once updated; test/infra/*.test.ts assert
 * what the aws template must hold, property by property.)
 */

/**
 * JSON with every object's keys sorted, so that equal templates give equal text. Asset
 * locations are left out: without bundling, CDK names a function's asset after the folder the
 * repository is checked out in, which is not part of the template's meaning.
 */
function canonicalJson(value: unknown): string {
  const sorted = (inner: unknown): unknown => {
    if (Array.isArray(inner)) return inner.map(sorted);
    if (inner && typeof inner === 'object') {
      return Object.fromEntries(
        Object.entries(inner)
          .filter(([key]) => !key.startsWith('aws:asset:'))
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([key, entry]) => [key, sorted(entry)]),
      );
    }
    return typeof inner === 'string' ? inner.replace(/^[0-9a-f]{64}\.zip$/, '<asset>.zip') : inner;
  };
  return JSON.stringify(sorted(value));
}

let unset: string;
let explicit: string;

beforeAll(() => {
  // What `npx cdk synth` builds: cdk.json's context, no target given.
  unset = canonicalJson(synthesize().template.toJSON());
  explicit = canonicalJson(synthesize({ 'pipeline:target': 'aws' }).template.toJSON());
});

describe('the aws target', () => {
  it('is the default', () => {
    expect(explicit).toBe(unset);
  });

  it('holds nothing of the localstack target', () => {
    for (const value of [
      LOCALSTACK_ENDPOINTS.kafkaBootstrapServers,
      LOCALSTACK_ENDPOINTS.redisUrl,
      LOCALSTACK_ENDPOINTS.analyticsUrl,
      ...Object.values(LOCALSTACK_ENDPOINTS.sourceBaseUrls),
      '"KAFKA_AUTH":"none"',
      'SelfManagedEventSource',
      'AWS::Events::Rule',
    ]) {
      expect({ value, found: unset.includes(value) }).toEqual({ value, found: false });
    }
  });
});
