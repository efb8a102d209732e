import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configFromContext } from '../../infra/config.ts';
import { startMockServers } from '../../local/mocks/serve.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type ComposeService = {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  command?: string[];
  networks?: string[];
};
type Compose = {
  services: Record<string, ComposeService>;
  networks: Record<string, { name: string }>;
};

const compose = parse(read('docker-compose.localstack.yml')) as Compose;

describe('docker-compose.localstack.yml', () => {
  it('runs LocalStack Pro with the auth token from the environment, and the mocks built here', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['localstack', 'mocks']);
    const localstack = compose.services.localstack;
    expect(localstack?.image).toMatch(/localstack\/localstack-pro:/);
    expect(localstack?.environment?.LOCALSTACK_AUTH_TOKEN).toMatch(/^\$\{LOCALSTACK_AUTH_TOKEN:\?/);
    const mocks = compose.services.mocks;
    expect(mocks?.image).toBeUndefined();
    expect(mocks?.build?.context).toBe('.');
    expect(existsSync(join(ROOT, mocks?.build?.dockerfile ?? 'missing'))).toBe(true);
  });

  it('puts the Lambda containers on the network where the mocks are', () => {
    const network = compose.networks.pipeline?.name;
    expect(compose.services.localstack?.environment?.LAMBDA_DOCKER_NETWORK).toBe(network);
    expect(compose.services.mocks?.networks).toEqual(['pipeline']);
  });

  it('builds the mocks image from files that exist, starting the mock server entry', () => {
    const dockerfile = read('local/mocks/Dockerfile');
    const copied = [...dockerfile.matchAll(/^COPY (\S+)/gm)].map((match) => match[1] ?? '');
    expect(copied.length).toBeGreaterThan(0);
    for (const path of copied) expect(existsSync(join(ROOT, path)), path).toBe(true);
    const entry = /ENTRYPOINT \[.*"(local\/[^"]+\.ts)"\]/.exec(dockerfile)?.[1];
    expect(entry).toBe('local/mocks/serve.ts');
  });
});

describe('npm run deploy:local', () => {
  const script = read('local/localstack/deploy.sh');

  it('passes context that the stack config accepts and that points the stack at the mocks', () => {
    const context = Object.fromEntries(
      [...script.matchAll(/-c (pipeline:\w+)=(\S+)/g)].map((match) => [match[1], match[2]]),
    );
    const config = configFromContext((key) => context[key]);
    expect(config.stage).toBe('local');
    expect(config.sourceBaseUrls).toEqual({
      crm: 'http://mocks:4010',
      inventory: 'http://mocks:4011',
    });
    expect(config.analyticsUrl).toBe('http://mocks:4012/analytics');
  });
});

describe('the mock servers container entry', () => {
  const stops: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
  });

  it('serves customers and products and accepts Analytics payloads', async () => {
    const lines: string[] = [];
    const servers = await startMockServers(
      { host: '127.0.0.1', basePort: 0, records: 20 },
      (line) => lines.push(line),
    );
    stops.push(servers.stop);
    const customers = (await (await fetch(`${servers.urls.crm}/customers?page=1`)).json()) as {
      items: { id: string }[];
    };
    expect(customers.items.map((c) => c.id)).toContain('1');
    const products = await fetch(`${servers.urls.inventory}/products`);
    expect(products.status).toBe(200);
    const posted = await fetch(servers.urls.analytics, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: '1', customer: { id: '1' }, inventory: { id: '1' } }),
    });
    expect(posted.status).toBe(200);
    expect(lines).toEqual(['Analytics received: {id=1, customer={id=1}, inventory={id=1}}']);
  });
});
