import { describeValue } from './describe-value.js';
import { ThrottleConfigError } from './throttle-config-error.js';

/**
 * 'enforce' denies what a throttle refuses; 'shadow' counts and decides the same way, reports the
 * would-be denial (log, metrics, hooks, headers) and lets the request through: a new limit is
 * watched in production before it is switched on.
 */
export type ThrottleMode = 'enforce' | 'shadow';
export const THROTTLE_MODES: readonly ThrottleMode[] = ['enforce', 'shadow'];

/** Checks a `mode` option; `where` starts the message. */
export function validateThrottleMode(value: unknown, where: string): ThrottleMode | undefined {
  if (value === undefined) return undefined;
  if (!THROTTLE_MODES.includes(value as ThrottleMode)) throw new ThrottleConfigError(`${where}: mode must be 'enforce' or 'shadow', got ${describeValue(value)}`);
  return value as ThrottleMode;
}
