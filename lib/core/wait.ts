/**
 * DRF's SimpleRateThrottle.wait(): how many seconds the client should wait before its next request.
 *
 * The remaining time of the oldest hit in the window is shared out among the requests still
 * available, so a client that follows the advice is spread evenly over the window instead of
 * bursting as soon as one slot frees. Returns null when no request is available even after the
 * oldest hit leaves (the history is longer than the limit, e.g. after a rate was lowered).
 *
 * @param count  hits inside the window (DRF: len(history))
 * @param oldest time of the oldest hit inside the window in ms, or null when there is none
 */
export function slidingLogWait(limit: number, durationMs: number, count: number, oldest: number | null, now: number): number | null {
  const remainingMs = oldest === null ? durationMs : durationMs - (now - oldest);
  const availableRequests = limit - count + 1;
  if (availableRequests <= 0) return null;
  return remainingMs / availableRequests / 1000;
}

/**
 * A wait in seconds as the client is told it: whole seconds, rounded up as DRF's message does;
 * null (unknown) stays null. A wait of 0 stays 0 (the message says "0 seconds").
 */
export function waitSeconds(wait: number | null): number | null {
  return wait === null ? null : Math.ceil(wait);
}

/**
 * The Retry-After header's value for a wait in seconds: whole seconds rounded up, or null (no
 * header) when the wait is unknown or rounds to nothing.
 */
export function retryAfterSeconds(wait: number | null): number | null {
  const seconds = waitSeconds(wait);
  return seconds !== null && seconds > 0 ? seconds : null;
}
