import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs against each mutant: the unit tests, and the integration tests of the
 * adapters that need only Redis and loopback HTTP servers (no Kafka broker, so a mutant costs
 * milliseconds, not seconds).
 */
export const MUTATION_TESTS = [
  'test/unit/**/*.test.ts',
  'test/integration/redis-join-store.test.ts',
  'test/integration/idempotent-delivery.test.ts',
  'test/integration/idempotency-cache.test.ts',
  'test/integration/http-retry.test.ts',
  'test/integration/analytics-sink.test.ts',
  'test/integration/batch-delivery.test.ts',
];

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: MUTATION_TESTS,
    globalSetup: ['test/support/redis-setup.ts'],
    setupFiles: ['test/support/strict-throw.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
