/** Deterministic sample data for the mock sources: what a small CRM and warehouse would hold. */

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Radia',
  'Tim',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Perlman',
  'Lee',
];
const PRODUCTS = [
  'Laptop',
  'Monitor',
  'Keyboard',
  'Mouse',
  'Dock',
  'Headset',
  'Webcam',
  'Tablet',
  'Printer',
  'Router',
];

export type MockRecord = Record<string, unknown>;

/**
 * Ids 1..count, less a few on each side so the join has unmatched records: the CRM lacks every
 * tenth id and the Inventory every seventh. `gaps: false` gives both sides every id.
 */
export function sampleCustomers(count: number, gaps = true): MockRecord[] {
  const customers: MockRecord[] = [];
  for (let i = 1; i <= count; i++) {
    if (gaps && i % 10 === 0) continue;
    const first = FIRST[i % FIRST.length] ?? 'Ada';
    const last = LAST[Math.floor(i / FIRST.length) % LAST.length] ?? 'Lovelace';
    customers.push({
      id: String(i),
      name: `${first} ${last}`,
      email: `${first.toLowerCase()}.${last.toLowerCase()}${i}@example.com`,
      updatedAt: null,
    });
  }
  return customers;
}

export function sampleProducts(count: number, gaps = true): MockRecord[] {
  const products: MockRecord[] = [];
  for (let i = 1; i <= count; i++) {
    if (gaps && i % 7 === 0) continue;
    products.push({
      id: String(i),
      name: PRODUCTS[i % PRODUCTS.length] ?? 'Laptop',
      stock: (i * 37) % 100,
      updatedAt: null,
    });
  }
  return products;
}

/** A seeded generator (mulberry32), so a fault rate gives the same faults on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
