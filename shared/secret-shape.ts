/**
 * The shape of the secrets the stack creates and the functions read. No AWS SDK here: the CDK app
 * imports it too.
 */

/**
 * Field the stack writes into an API token secret it creates, until the operator puts the real
 * `{"token": …}` there. A secret that still has it is refused (SecretPlaceholderError).
 */
export const SECRET_PLACEHOLDER_FIELD = 'placeholder';

/** A secret still holds the stand-in value the stack created. */
export class SecretPlaceholderError extends Error {
  override readonly name = 'SecretPlaceholderError';
  constructor(readonly secretId: string) {
    super(
      `secret ${secretId} still holds the placeholder the stack created: put the credentials in it, in the JSON its description names (docs/deploy.md, step 3)`,
    );
  }
}
