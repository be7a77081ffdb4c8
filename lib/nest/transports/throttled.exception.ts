import { HttpException, HttpStatus } from '@nestjs/common';
import { waitSeconds } from '../../core/wait.js';

/**
 * 429 Too Many Requests, with DRF's message:
 * `Request was throttled. Expected available in 5 seconds.`
 */
export class ThrottledException extends HttpException {
  /** Whole seconds until the client may retry (rounded up), or null when unknown. */
  readonly wait: number | null;

  /** `body`: the response body instead of Nest's `{ statusCode, error, message }` (errorFormat 'problem'). */
  constructor(wait: number | null, body?: Record<string, unknown>) {
    const seconds = waitSeconds(wait);
    const message = throttledMessage(seconds);
    super(body ?? { statusCode: HttpStatus.TOO_MANY_REQUESTS, error: 'Too Many Requests', message }, HttpStatus.TOO_MANY_REQUESTS);
    this.wait = seconds;
    // DRF's message whatever the body, for logs and for code that catches the exception.
    this.message = message;
  }
}

/** DRF's message for a wait in seconds: rounded up to whole seconds, as DRF does; none when unknown. */
export function throttledMessage(wait: number | null): string {
  const seconds = waitSeconds(wait);
  if (seconds === null) return 'Request was throttled.';
  return `Request was throttled. Expected available in ${seconds} ${seconds === 1 ? 'second' : 'seconds'}.`;
}
