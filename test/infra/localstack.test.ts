import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configFromContext } from '../../infra/config.ts';
import { COMPOSE_NETWORK, LOCALSTACK_ENDPOINTS } from '../../infra/localstack.ts';
import { startMockServers } from '../../local/mocks/serve.ts';
import { synthesize } from '../support/synth.ts';
import { deployedFunctions } from '../support/template-functions.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type ComposeService = {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  command?: string[];
  networks?: string[];
  ports?: string[];
};
type Compose = {
  services: Record<string, ComposeService>;
  networks: Record<string, { name: string }>;
};

const compose = parse(read('docker-compose.localstack.yml')) as Compose;
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (!found) throw new Error(`no service ${name} in docker-compose.localstack.yml`);
  return found;
};
/** The image a service runs when no variable overrides it (`${VAR:-default}` → default). */
const defaultImage = (image = '') => /^\$\{\w+:-([^}]+)\}$/.exec(image)?.[1] ?? image;

/** Every host:port the localstack template gives a function or a mapping, with what it is for. */
let endpoints: { use: string; host: string; port: number }[];

beforeAll(() => {
  const { template, outdir } = synthesize({ 'pipeline:target': 'localstack' });
  const hostPort = (use: string, value: string) => {
    const url = new URL(value.includes('://') ? value : `kafka://${value}`);
    return { use, host: url.hostname, port: Number(url.port) };
  };
  endpoints = deployedFunctions(template, outdir).flatMap((fn) =>
    Object.entries(fn.environment)
      .filter(([name, value]) => typeof value === 'string' && /BROKERS|_URL$/.test(name))
      .flatMap(([name, value]) =>
        String(value)
          .split(',')
          .map((entry) => hostPort(`${fn.name} ${name}`, entry)),
      ),
  );
  const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
  for (const mapping of mappings) {
    const servers = (mapping.Properties as Record<string, unknown>).SelfManagedEventSource as
      | { Endpoints: { KafkaBootstrapServers: string[] } }
      | undefined;
    for (const server of servers?.Endpoints.KafkaBootstrapServers ?? [])
      endpoints.push(hostPort('Kafka mapping', server));
  }
});

describe('docker-compose.localstack.yml', () => {
  it('runs LocalStack, the broker, Valkey and the mocks, every image pinned', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'kafka',
      'localstack',
      'mocks',
      'valkey',
    ]);
    expect(defaultImage(service('localstack').image)).toMatch(
      /^localstack\/localstack-pro:\d+\.\d+\.\d+$/,
    );
    expect(service('kafka').image).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/);
    expect(service('valkey').image).toMatch(/^valkey\/valkey:\d+\.\d+\.\d+(-alpine)?$/);
    expect(service('mocks').image).toBeUndefined();
    const ciNode = /NODE22_VERSION="([\d.]+)"/.exec(read('.ci/node22.sh'))?.[1];
    expect(read('local/mocks/Dockerfile')).toContain(`FROM node:${ciNode}-slim`);
    expect(existsSync(join(ROOT, service('mocks').build?.dockerfile ?? 'missing'))).toBe(true);
  });

  it('asks for the auth token, runs arm64 functions natively and puts them on the network', () => {
    const environment = service('localstack').environment ?? {};
    expect(environment.LOCALSTACK_AUTH_TOKEN).toMatch(/^\$\{LOCALSTACK_AUTH_TOKEN:\?/);
    expect(environment.LAMBDA_IGNORE_ARCHITECTURE).toBe('1');
    expect(compose.networks.pipeline?.name).toBe(COMPOSE_NETWORK);
    expect(environment.LAMBDA_DOCKER_NETWORK).toBe(COMPOSE_NETWORK);
    for (const name of Object.keys(compose.services))
      expect({ name, networks: service(name).networks }).toEqual({ name, networks: ['pipeline'] });
  });

  it('has a service on the network for every endpoint the localstack template names', () => {
    expect(endpoints.length).toBeGreaterThan(0);
    const hosts = [...new Set(endpoints.map((endpoint) => endpoint.host))].sort();
    expect(hosts).toEqual(['kafka', 'mocks', 'valkey']);
  });

  it('advertises the broker at the host:port the functions and mappings use, in KRaft mode', () => {
    const environment = service('kafka').environment ?? {};
    expect(environment.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    const advertised = environment.KAFKA_ADVERTISED_LISTENERS?.split(',') ?? [];
    for (const endpoint of endpoints.filter((e) => e.host === 'kafka')) {
      expect(advertised).toContain(`PLAINTEXT://kafka:${endpoint.port}`);
      expect(environment.KAFKA_LISTENERS?.split(',')).toContain(`PLAINTEXT://:${endpoint.port}`);
    }
    expect(environment.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP).toContain('PLAINTEXT:PLAINTEXT');
    expect(environment.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
  });

  it('serves Valkey without TLS or a password on the port of the template REDIS_URL', () => {
    const valkey = service('valkey');
    expect(valkey.command).toBeUndefined();
    expect(valkey.ports?.map((port) => port.split(':').at(-1))).toEqual(['6379']);
    for (const endpoint of endpoints.filter((e) => e.host === 'valkey'))
      expect(endpoint.port).toBe(6379);
    expect(LOCALSTACK_ENDPOINTS.redisUrl.startsWith('redis://')).toBe(true);
  });

  it('starts the mocks on the ports of the template URLs', () => {
    const command = service('mocks').command ?? [];
    const basePort = Number(command[command.indexOf('--base-port') + 1]);
    const ports = new Set([basePort, basePort + 1, basePort + 2]);
    for (const endpoint of endpoints.filter((e) => e.host === 'mocks'))
      expect({ endpoint: endpoint.use, served: ports.has(endpoint.port) }).toEqual({
        endpoint: endpoint.use,
        served: true,
      });
    expect(command).toContain('0.0.0.0');
  });

  it('builds the mocks image from files that exist, starting the mock server entry', () => {
    const dockerfile = read('local/mocks/Dockerfile');
    const copied = [...dockerfile.matchAll(/^COPY (\S+)/gm)].map((match) => match[1] ?? '');
    expect(copied.length).toBeGreaterThan(0);
    for (const path of copied) expect(existsSync(join(ROOT, path)), path).toBe(true);
    const entry = /ENTRYPOINT \[.*"(local\/[^"]+\.ts)"\]/.exec(dockerfile)?.[1];
    expect(entry).toBe('local/mocks/serve.ts');
  });

  it('sends a small build context: .dockerignore leaves out the heavy folders, not what the image copies', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const heavy of ['node_modules', 'cdk.out', '.local', '.git', 'bench/results'])
      expect(ignored).toContain(heavy);
    const copied = [...read('local/mocks/Dockerfile').matchAll(/^COPY (\S+)/gm)].map(
      (match) => match[1] ?? '',
    );
    for (const path of copied)
      expect({ path, ignoredBy: ignored.filter((entry) => path.startsWith(entry)) }).toEqual({
        path,
        ignoredBy: [],
      });
  });
});

describe('npm run deploy:local', () => {
  const script = read('local/localstack/deploy.sh');

  it('deploys the localstack target, whose defaults point at the compose mocks', () => {
    const context = Object.fromEntries(
      [...script.matchAll(/-c (pipeline:\w+)=(\S+)/g)].map((match) => [match[1], match[2]]),
    );
    const config = configFromContext((key) => context[key]);
    expect(config.target).toBe('localstack');
    expect(config.stage).toBe('local');
    expect(config.retainData).toBe(false);
    expect(config.sourceBaseUrls).toEqual({
      crm: 'http://mocks:4010',
      inventory: 'http://mocks:4011',
    });
    expect(config.analyticsUrl).toBe('http://mocks:4012/analytics');
  });

  it('says where to watch and how to tear down', () => {
    expect(script).toContain('logs -f mocks');
    expect(script).toContain('down -v');
    expect(script).toContain('npm run logs -- --localstack');
  });

  it('names the bad target', () => {
    expect(() =>
      configFromContext((key) => (key === 'pipeline:target' ? 'azure' : undefined)),
    ).toThrow('context pipeline:target must be aws or localstack, got azure');
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
