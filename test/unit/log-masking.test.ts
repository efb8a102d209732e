import { describe, expect, it } from 'vitest';
import { maskEmails, maskSensitive } from '../../shared/logger.ts';

describe('what a log line may contain (the replacer every log line goes through)', () => {
  it('masks emails in every string field, nested ones included, and hides secrets', () => {
    const line = JSON.stringify(
      {
        message: 'record quarantined',
        reason: 'email "jane.doe@example.com" is taken',
        record: { customer: { name: 'Jane', email: 'jane.doe@example.com', stock: 3 } },
        authorization: 'Bearer abc',
        token: 12345,
      },
      maskSensitive,
    );
    expect(JSON.parse(line)).toEqual({
      message: 'record quarantined',
      reason: 'email "j***@e***.com" is taken',
      record: { customer: { name: 'Jane', email: 'j***@e***.com', stock: 3 } },
      authorization: '***',
      token: '***',
    });
  });

  it('leaves a secret field that has no value as it is, so a missing secret stays visible', () => {
    expect(JSON.parse(JSON.stringify({ password: null, apiKey: 'k' }, maskSensitive))).toEqual({
      password: null,
      apiKey: '***',
    });
    expect(maskSensitive('token', undefined)).toBeUndefined();
  });
});

describe('log masking', () => {
  it('masks emails wherever they appear', () => {
    expect(maskEmails('to jane.doe@example.com and x@y.org')).toBe(
      'to j***@e***.com and x***@y***.org',
    );
  });

  it('hides secret fields whatever their value', () => {
    expect(maskSensitive('password', 'hunter2')).toBe('***');
    expect(maskSensitive('authorization', 'Bearer abc')).toBe('***');
    expect(maskSensitive('name', 'Ada')).toBe('Ada');
  });
});
