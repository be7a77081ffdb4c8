import { AnonThrottle, type ThrottlingModuleOptions, UserThrottle } from '../lib/index.js';

/**
 * The sample's throttling options. Anonymous clients get 20 requests a minute, signed-in users 60
 * (send `Authorization: Bearer <user-id>`; see DemoAuthMiddleware). Exported so that tests (and
 * `GET /`) start from the same options the app runs with.
 */
export const throttlingOptions = {
  defaultThrottles: [AnonThrottle, UserThrottle],
  rates: { anon: '20/min', user: '60/min', uploads: '5/min', burst: '10/min', sustained: '200/day' },
  // Decisions, store state and memory keys in prom-client's default register, served at GET /metrics.
  metrics: { prometheus: {} },
  // Behind one reverse proxy in production? Set numProxies: 1.
} satisfies ThrottlingModuleOptions;
