import { ServiceUnavailableException } from '@nestjs/common';

/** What a client is told when the store is down and `onStoreError` is 'deny'. */
export const STORE_UNAVAILABLE_MESSAGE = 'Rate limiting is temporarily unavailable; please retry shortly.';

/** The HTTP answer to a store outage under 'deny': a 503, the server's fault, never a 429 or a 500. */
export function storeUnavailableException(cause?: unknown): ServiceUnavailableException {
  return new ServiceUnavailableException(STORE_UNAVAILABLE_MESSAGE, cause === undefined ? undefined : { cause });
}
