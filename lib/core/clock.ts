/**
 * A clock returns the current time in milliseconds since the epoch.
 * Every algorithm takes one instead of calling Date.now() so that tests can drive time by hand.
 */
export type Clock = () => number;

export const systemClock: Clock = Date.now;
