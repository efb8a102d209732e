import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { SourceDefinition } from '../../shared/sources/definition.ts';

/**
 * The JSON fields a credential secret must hold, by what reads it. The stack never creates
 * these secrets: the operator creates them with the real credentials before the first deploy
 * (docs/deploy.md, step 3) and names them in context, so no function ever starts without them.
 */
export type SecretShape = { fields: string[] };

export const ANALYTICS_SECRET_SHAPE: SecretShape = { fields: ['token'] };

/** The shape of a source's secret, from its declared auth; undefined when it needs none. */
export function sourceSecretShape(source: SourceDefinition): SecretShape | undefined {
  switch (source.auth.type) {
    case 'none':
      return undefined;
    case 'basic':
      return { fields: ['username', 'password'] };
    case 'oauth2':
      return { fields: ['clientId', 'clientSecret'] };
    default:
      return { fields: ['token'] };
  }
}

/** `{"field": "…", …}`, for messages and docs. */
export const describeShape = (shape: SecretShape) =>
  `{${shape.fields.map((field) => `"${field}": "…"`).join(', ')}}`;

/**
 * An existing Secrets Manager secret, by ARN. A complete ARN (with Secrets Manager's six-character
 * suffix) is imported as is; a partial one lets the grant cover any suffix.
 */
export function existingSecret(scope: Construct, id: string, arn: string): ISecret {
  return /-[A-Za-z0-9]{6}$/.test(arn)
    ? Secret.fromSecretCompleteArn(scope, id, arn)
    : Secret.fromSecretPartialArn(scope, id, arn);
}
