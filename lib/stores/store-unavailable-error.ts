/**
 * Thrown when the throttle store cannot answer (error or timeout) and the policy is 'deny'. The Nest
 * layer turns it into 503 Service Unavailable: a store outage is never the client's fault, so it is
 * never reported as 429 (too many requests) nor as 500.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';

  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/** The store did not answer within the time allowed. */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';

  constructor(readonly timeoutMs: number) {
    super(`the throttle store did not answer within ${timeoutMs} ms`);
  }
}
