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
    /** How long until the store is tried again (FailSafeThrottleStore's next probe), in ms, when known. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /**
   * The `Retry-After` for this outage, in whole seconds (at least 1: the probe may find the store
   * back), or null when no retry time is known. The 503 that answers the error carries it.
   */
  get retryAfter(): number | null {
    return this.retryAfterMs === undefined ? null : Math.max(1, Math.ceil(this.retryAfterMs / 1000));
  }
}

/**
 * A call was not answered in time: 'stalled', the store answered none of our calls for `timeoutMs`
 * (an outage); 'overdue', it kept answering others but this call reached the hard bound `timeoutMs`.
 */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';

  constructor(
    readonly timeoutMs: number,
    readonly reason: 'stalled' | 'overdue' = 'stalled',
  ) {
    super(reason === 'stalled' ? `the throttle store did not answer within ${timeoutMs} ms` : `the throttle store kept answering, but not this call within ${timeoutMs} ms`);
  }
}
