import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MockRecord } from './dataset.ts';

/**
 * The APIs the original system was built against, exactly: `GET /customers` and
 * `GET /products` answer the whole listing as a plain JSON array (no envelope, no paging, query
 * parameters ignored, integer ids and `updatedAt: null` as a Spring entity with a `Long id`
 * serializes, fields the pipeline does not model), and Analytics is
 * `POST /analytics/data`. One server plays all three, as an independent service would.
 */
export class OriginalApiMock {
  url = '';
  /** Bodies POSTed to /analytics/data, parsed, in arrival order. */
  readonly received: unknown[] = [];
  #server: Server;

  constructor(
    public customers: MockRecord[],
    public products: MockRecord[],
  ) {
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  async start(port = 0, host = '127.0.0.1'): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const json = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    };
    if (req.method === 'GET' && path === '/customers') return json(200, this.customers);
    if (req.method === 'GET' && path === '/products') return json(200, this.products);
    if (req.method === 'POST' && path === '/analytics/data') {
      try {
        this.received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        return json(400, { error: 'body is not JSON' });
      }
      return json(200, { status: 'ok' });
    }
    json(404, { error: 'not found' });
  }
}

/**
 * Customers as the original CRM serves them, as a Spring entity with a `Long id` serializes:
 * integer ids, `updatedAt: null`, and fields the pipeline never names.
 */
export function originalCustomers(count: number): MockRecord[] {
  return Array.from({ length: count }, (_, index) => {
    const n = index + 1;
    return {
      id: n,
      name: `Customer ${n}`,
      email: `customer${n}@example.com`,
      phone: `+1-555-${String(n).padStart(4, '0')}`,
      address: { city: n % 2 ? 'Lisbon' : 'Oslo', lines: [`${n} Main St`] },
      vip: n % 5 === 0,
      updatedAt: null,
    };
  });
}

/** Products as the original Inventory serves them (integer ids); every other id has no customer. */
export function originalProducts(count: number): MockRecord[] {
  return Array.from({ length: count }, (_, index) => {
    const n = index * 2 + 1;
    return {
      id: n,
      name: `Product ${n}`,
      stock: (n * 7) % 50,
      sku: `SKU-${n}`,
      price: { amount: n + 0.99, currency: 'EUR' },
      tags: n % 3 ? ['hardware'] : [],
      discontinued: null,
      updatedAt: null,
    };
  });
}
