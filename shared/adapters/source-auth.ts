import type { RetryPolicy } from '../domain/retry-policy.ts';
import { SourceAuthError } from '../errors.ts';
import type { SourceAuth } from '../sources/definition.ts';
import { HttpRetriesExhausted, requestWithRetry } from './http-retry.ts';

/** The fields a source secret may hold; a plain-text secret is a token. */
export type SourceCredentials = {
  token?: string;
  username?: string;
  password?: string;
  clientId?: string;
  clientSecret?: string;
};

/** Reads a secret's text: from Secrets Manager on AWS, the environment or a file locally. */
export type SecretText = () => Promise<string>;

/** Signs requests to one source. */
export interface SourceAuthenticator {
  /** Adds the credentials to a request about to be sent (headers, or a query parameter). */
  sign(url: URL, headers: Record<string, string>): Promise<void>;
  /** After a 401: drops a cached token; true when signing again may succeed (OAuth2 only). */
  renew(): boolean;
  /** The query parameter carrying a secret, to keep out of saved URLs and logs. */
  readonly secretParam?: string | undefined;
}

/** Parses a secret's text: a JSON object with the credential fields, or the token itself. */
export function parseCredentials(text: string): SourceCredentials {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return { token: trimmed };
  const parsed = JSON.parse(trimmed) as Record<string, unknown>;
  const credentials: SourceCredentials = {};
  for (const key of ['token', 'username', 'password', 'clientId', 'clientSecret'] as const) {
    if (typeof parsed[key] === 'string') credentials[key] = parsed[key];
  }
  return credentials;
}

/**
 * The authenticator for a source's declared auth. Credentials are read on first use (and
 * cached by the secret reader); a missing field throws SourceAuthError naming it.
 */
export function createAuthenticator(
  source: string,
  auth: SourceAuth,
  secret: SecretText | undefined,
  policy: RetryPolicy,
): SourceAuthenticator {
  if (auth.type === 'none') return { sign: async () => {}, renew: () => false };
  if (secret === undefined) {
    throw new SourceAuthError(source, `auth "${auth.type}" needs a secret, and none is configured`);
  }
  const field = async (name: keyof SourceCredentials): Promise<string> => {
    let credentials: SourceCredentials;
    try {
      credentials = parseCredentials(await secret());
    } catch (error) {
      throw new SourceAuthError(source, `the secret cannot be read: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const value = credentials[name];
    if (!value) throw new SourceAuthError(source, `the secret has no "${name}"`);
    return value;
  };
  switch (auth.type) {
    case 'bearer':
      return {
        sign: async (_url, headers) => {
          headers.authorization = `Bearer ${await field('token')}`;
        },
        renew: () => false,
      };
    case 'apiKey':
      return {
        secretParam: auth.in === 'query' ? auth.name : undefined,
        sign: async (url, headers) => {
          const key = await field('token');
          if (auth.in === 'header') headers[auth.name.toLowerCase()] = key;
          else url.searchParams.set(auth.name, key);
        },
        renew: () => false,
      };
    case 'basic':
      return {
        sign: async (_url, headers) => {
          const pair = `${await field('username')}:${await field('password')}`;
          headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
        },
        renew: () => false,
      };
    case 'oauth2':
      return new ClientCredentials(source, auth, field, policy);
  }
}

/** How long before its announced expiry a token is refreshed. */
const EXPIRY_SKEW_MS = 30_000;

/**
 * OAuth2 client credentials (RFC 6749 §4.4): the token is fetched once, cached until shortly
 * before it expires, and fetched again when the source answers 401.
 */
class ClientCredentials implements SourceAuthenticator {
  #token: Promise<{ value: string; expires: number }> | undefined;

  constructor(
    private readonly source: string,
    private readonly auth: Extract<SourceAuth, { type: 'oauth2' }>,
    private readonly field: (name: keyof SourceCredentials) => Promise<string>,
    private readonly policy: RetryPolicy,
  ) {}

  async sign(_url: URL, headers: Record<string, string>): Promise<void> {
    let current = await this.#token;
    if (!current || Date.now() >= current.expires) {
      this.#token = this.#fetch();
      this.#token.catch(() => {}); // awaited just below; a later call retries
      current = await this.#token;
    }
    headers.authorization = `Bearer ${current.value}`;
  }

  renew(): boolean {
    this.#token = undefined;
    return true;
  }

  async #fetch(): Promise<{ value: string; expires: number }> {
    const id = await this.field('clientId');
    const secret = await this.field('clientSecret');
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.auth.scope) form.set('scope', this.auth.scope);
    let result: { status: number; body: string };
    try {
      result = await requestWithRetry(
        this.auth.tokenUrl,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
            authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
          },
          body: form.toString(),
        },
        { policy: this.policy },
      );
    } catch (error) {
      if (error instanceof HttpRetriesExhausted) {
        throw new SourceAuthError(this.source, `token endpoint: ${error.lastError}`, {
          cause: error,
        });
      }
      throw error;
    }
    if (result.status !== 200) {
      throw new SourceAuthError(this.source, `token endpoint answered HTTP ${result.status}`);
    }
    let answer: { access_token?: unknown; expires_in?: unknown };
    try {
      answer = JSON.parse(result.body) as typeof answer;
    } catch {
      throw new SourceAuthError(this.source, 'token endpoint answered a body that is not JSON');
    }
    if (typeof answer.access_token !== 'string' || answer.access_token === '') {
      throw new SourceAuthError(this.source, 'token endpoint answered no access_token');
    }
    const lifetimeMs = typeof answer.expires_in === 'number' ? answer.expires_in * 1000 : 3_600_000;
    return {
      value: answer.access_token,
      expires: Date.now() + Math.max(lifetimeMs / 2, lifetimeMs - EXPIRY_SKEW_MS),
    };
  }
}
