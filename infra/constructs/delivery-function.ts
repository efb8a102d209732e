import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { JoinStateCache } from './cache.ts';
import { PipelineFunction, type PipelineFunctionProps } from './pipeline-function.ts';

/** What every function that delivers payloads to Analytics once is bound to. */
export type DeliveryBindings = {
  /** The idempotency records (and the join state): its URL is in the environment, its AUTH bound here. */
  cache: JoinStateCache;
  /** The Analytics bearer token, when Analytics takes one. */
  analyticsToken?: ISecret | undefined;
  /** The dead-letter queue the function sends refused payloads to (not the replay, which drains it). */
  deadLetters?: IQueue | undefined;
};

/**
 * A function that delivers to Analytics exactly once (the merge, the re-drive, the sweeper, the
 * replay): a PipelineFunction bound to the cache's AUTH secret, the Analytics token and, where it
 * dead-letters, the queue. The env value and the grant are set together, in one place.
 */
export class DeliveryFunction extends PipelineFunction {
  constructor(
    scope: Construct,
    id: string,
    props: PipelineFunctionProps & { delivery: DeliveryBindings },
  ) {
    super(scope, id, props);
    const { cache, analyticsToken, deadLetters } = props.delivery;
    bindCacheAuth(this, cache);
    if (analyticsToken) this.bindSecret('ANALYTICS_TOKEN_SECRET_ARN', analyticsToken);
    deadLetters?.grantSendMessages(this.fn);
  }
}

/** Tells a function the cache's AUTH secret, when the cache has one (not on LocalStack). */
export function bindCacheAuth(fn: PipelineFunction, cache: JoinStateCache): void {
  if (cache.authSecret) fn.bindSecret('REDIS_AUTH_SECRET_ARN', cache.authSecret);
}
