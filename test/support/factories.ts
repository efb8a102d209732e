import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { Customer, Product } from '../../shared/domain/records.ts';

/** A prefix unique to one test, for its topics and Redis keys. */
export function uniquePrefix(label: string): string {
  return `t-${label}-${randomUUID().slice(0, 8)}.`;
}

export function testServices() {
  return { brokers: inject('kafkaBrokers'), redisUrl: inject('redisUrl') };
}

export function aCustomer(id: string, changes: Partial<Customer> = {}): Customer {
  return {
    id,
    name: `Customer ${id}`,
    email: `customer${id}@example.com`,
    updatedAt: null,
    ...changes,
  };
}

export function aProduct(id: string, changes: Partial<Product> = {}): Product {
  return { id, name: `Product ${id}`, stock: id.length * 3, updatedAt: null, ...changes };
}

/** Polls `condition` until it holds or the deadline passes (then throws with `what`). */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
