import { IntrinsicException } from '@nestjs/common';
import { STORE_UNAVAILABLE_MESSAGE } from './store-unavailable-message.js';
import { throttledMessage } from './throttled.exception.js';

/** The error of a GraphQL resolver when the throttle store is down and onStoreError is 'deny'. */
export class GraphQLStoreUnavailableError extends IntrinsicException {
  /** `retryAfter`: whole seconds until the store is tried again, or null when unknown. */
  readonly extensions: { readonly code: 'SERVICE_UNAVAILABLE'; readonly retryAfter: number | null };

  constructor(retryAfter: number | null = null) {
    super(STORE_UNAVAILABLE_MESSAGE);
    this.name = 'GraphQLStoreUnavailableError';
    this.extensions = { code: 'SERVICE_UNAVAILABLE', retryAfter };
  }
}

/**
 * The throttled error of a GraphQL resolver. GraphQL's executor copies `extensions` of the error
 * a resolver throws into the response, so Apollo and Mercurius both answer
 * `{ errors: [{ message, extensions: { code: 'TOO_MANY_REQUESTS', retryAfter } }] }` without this
 * library importing `graphql`. An IntrinsicException, so Nest does not log every throttled call.
 */
export class GraphQLThrottledError extends IntrinsicException {
  /** Whole seconds until the client may retry (rounded up), or null when unknown. */
  readonly wait: number | null;
  readonly extensions: { readonly code: 'TOO_MANY_REQUESTS'; readonly retryAfter: number | null };

  constructor(wait: number | null) {
    const seconds = wait === null ? null : Math.ceil(wait);
    super(throttledMessage(seconds));
    this.name = 'GraphQLThrottledError';
    this.wait = seconds;
    this.extensions = { code: 'TOO_MANY_REQUESTS', retryAfter: seconds };
  }
}
