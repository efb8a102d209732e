import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Reads a secret from Secrets Manager and caches it for `ttlMs`, so warm invocations do not
 * call the API each time and a rotated secret is picked up within the TTL. A JSON secret is read
 * at `field`; a plain-text secret is returned whole.
 */
export class CachedSecret {
  #value: string | undefined;
  #expires = 0;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    private readonly options: { field?: string; ttlMs?: number } = {},
  ) {}

  async get(): Promise<string> {
    if (this.#value !== undefined && Date.now() < this.#expires) return this.#value;
    const answer = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    const text = answer.SecretString;
    if (text === undefined) throw new Error(`secret ${this.secretId} has no string value`);
    this.#value = this.options.field ? readField(text, this.options.field, this.secretId) : text;
    this.#expires = Date.now() + (this.options.ttlMs ?? 300_000);
    return this.#value;
  }
}

function readField(text: string, field: string, secretId: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`secret ${secretId} is not JSON, so it has no field "${field}"`);
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new Error(`secret ${secretId} is not a JSON object, so it has no field "${field}"`);
  const value = (parsed as Record<string, unknown>)[field];
  if (typeof value !== 'string')
    throw new Error(`secret ${secretId} has no string field "${field}"`);
  return value;
}

let sharedClient: SecretsManagerClient | undefined;

/** A token reader for an optional secret ARN: undefined ARN means "no token". */
export function secretReader(
  arn: string | undefined,
  field?: string,
): (() => Promise<string>) | undefined {
  if (arn === undefined) return undefined;
  sharedClient ??= new SecretsManagerClient({});
  const secret = new CachedSecret(sharedClient, arn, field === undefined ? {} : { field });
  return () => secret.get();
}
