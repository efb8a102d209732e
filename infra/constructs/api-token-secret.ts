import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { SECRET_PLACEHOLDER_FIELD } from '../../shared/secret-shape.ts';
import type { SourceDefinition } from '../../shared/sources/definition.ts';

/** The JSON a credential secret must hold, by what reads it. */
export type SecretShape = {
  /** The fields the operator fills in, e.g. ["token"] or ["clientId", "clientSecret"]. */
  fields: string[];
};

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

/** `{"field": "…", …}`, for descriptions and outputs. */
export const describeShape = (shape: SecretShape) =>
  `{${shape.fields.map((field) => `"${field}": "…"`).join(', ')}}`;

/**
 * A credential secret, created in the shape the functions read. The stack cannot know the
 * credentials, so the secret starts with a generated stand-in for its last field, empty others,
 * and a `placeholder` field; the functions refuse it with a message saying what to put there,
 * and `npm run preflight` reports it before a deploy.
 */
export function credentialSecret(
  scope: Construct,
  id: string,
  api: string,
  shape: SecretShape = { fields: ['token'] },
): Secret {
  const generated = shape.fields.at(-1) ?? 'token';
  const blanks = Object.fromEntries(shape.fields.slice(0, -1).map((field) => [field, '']));
  return new Secret(scope, id, {
    description: `Credentials of ${api}: put ${describeShape(shape)} here`,
    generateSecretString: {
      secretStringTemplate: JSON.stringify({
        ...blanks,
        [SECRET_PLACEHOLDER_FIELD]: `replace this secret's value with ${describeShape(shape)} for ${api}`,
      }),
      generateStringKey: generated,
      excludePunctuation: true,
    },
  });
}
