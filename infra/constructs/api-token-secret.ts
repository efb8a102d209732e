import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { SECRET_PLACEHOLDER_FIELD } from '../../shared/secret-shape.ts';

/**
 * A secret for an API token, created in the shape the functions read: `{"token": "…"}`. The
 * stack cannot know the token, so the secret starts with a generated stand-in and a
 * `placeholder` field; the functions refuse it with a message saying what to put there, and
 * `npm run preflight` reports it before a deploy.
 */
export function apiTokenSecret(scope: Construct, id: string, api: string): Secret {
  return new Secret(scope, id, {
    description: `API token of ${api}: put {"token": "<the token>"} here`,
    generateSecretString: {
      secretStringTemplate: JSON.stringify({
        [SECRET_PLACEHOLDER_FIELD]: `replace this secret's value with {"token": "<the token of ${api}>"}`,
      }),
      generateStringKey: 'token',
      excludePunctuation: true,
    },
  });
}
