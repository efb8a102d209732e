import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { CachedSecret } from '../../shared/adapters/secrets.ts';
import { SqsDeadLetterSink, sqsBatches } from '../../shared/adapters/sqs-dead-letter.ts';
import { buildMergedPayload } from '../../shared/domain/merge.ts';
import type { DeadLetter } from '../../shared/ports.ts';
import { aCustomer, aProduct } from '../support/factories.ts';

const secrets = mockClient(SecretsManagerClient);
const sqs = mockClient(SQSClient);
afterEach(() => {
  secrets.reset();
  sqs.reset();
});

function aLetter(id: string, nameBytes = 10): DeadLetter {
  const payload = buildMergedPayload(id, {
    customer: aCustomer(id, { name: 'n'.repeat(nameBytes) }),
    inventory: aProduct(id),
  });
  if (!payload) throw new Error('no payload');
  return {
    payload,
    hash: `h${id}`,
    reason: 'HTTP 503',
    attempts: 5,
    failedAt: '2026-11-25T00:00:00Z',
  };
}

describe('CachedSecret', () => {
  it('reads a JSON field once and serves it from the cache within the TTL', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"token":"t-1"}' });
    const secret = new CachedSecret(new SecretsManagerClient({}), 'arn:secret', { field: 'token' });
    expect(await secret.get()).toBe('t-1');
    expect(await secret.get()).toBe('t-1');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secrets.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: 'arn:secret',
    });
  });

  it('reads again after the TTL, so a rotated secret is picked up', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: 'old' })
      .resolves({ SecretString: 'new' });
    const secret = new CachedSecret(new SecretsManagerClient({}), 'arn:secret', { ttlMs: 0 });
    expect(await secret.get()).toBe('old');
    expect(await secret.get()).toBe('new');
  });

  it('names the secret and the field when the value has no such field', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"password":"p"}' });
    const secret = new CachedSecret(new SecretsManagerClient({}), 'arn:s', { field: 'token' });
    await expect(secret.get()).rejects.toThrow('secret arn:s has no string field "token"');
  });
});

describe('SqsDeadLetterSink', () => {
  it('sends letters in batches of ten with the reason and hash as attributes', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const letters = Array.from({ length: 23 }, (_, i) => aLetter(String(i)));
    await new SqsDeadLetterSink(new SQSClient({}), 'https://sqs/q').send(letters);
    const calls = sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
    expect(calls.map((input) => input.Entries?.length)).toEqual([10, 10, 3]);
    const first = calls[0]?.Entries?.[0];
    expect(JSON.parse(first?.MessageBody ?? '{}')).toMatchObject({
      payload: { id: '0' },
      reason: 'HTTP 503',
    });
    expect(first?.MessageAttributes?.hash?.StringValue).toBe('h0');
  });

  it('keeps each batch under 256 KiB when letters are large', () => {
    const letters = Array.from({ length: 6 }, (_, i) => aLetter(String(i), 60_000));
    const batches = sqsBatches(letters);
    expect(batches.map((batch) => batch.length)).toEqual([4, 2]);
    for (const batch of batches) {
      const bytes = batch.reduce((sum, { body }) => sum + Buffer.byteLength(body) + 1024, 0);
      expect(bytes).toBeLessThanOrEqual(256 * 1024);
    }
  });

  it('throws naming the refused letters, so the batch is retried rather than lost', async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false, Message: 'try again' }],
    });
    await expect(
      new SqsDeadLetterSink(new SQSClient({}), 'https://sqs/q').send([aLetter('1'), aLetter('2')]),
    ).rejects.toThrow('SQS refused 1 dead letter(s): 1: InternalError try again');
  });
});
