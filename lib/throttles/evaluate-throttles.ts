import type { Awaitable, HitResult, ThrottleStore, WindowCheck } from '../core/store.js';
import { isBatchable, type SimpleRateThrottle } from './simple-rate-throttle.js';
import { ALLOWED, DENIED, type Throttle, type ThrottleContext, type ThrottleDecision } from './throttle.js';

/** The verdict on one request after every throttle had its say. */
export interface Evaluation {
  readonly allowed: boolean;
  /** The largest known wait among the throttles that denied, in seconds, or null. */
  readonly wait: number | null;
  /** One decision per throttle, in the order of the throttles. */
  readonly decisions: ThrottleDecision[];
}

/**
 * DRF's APIView.check_throttles(): every throttle sees every request, none short-circuits, so a
 * throttle that passes records its hit even when another one denies. The request is denied if any
 * throttle denies, and the wait is the largest non-null wait of those that denied.
 *
 * Rate throttles that keep the stock allowRequest() are batched into one store call; throttles with
 * their own allowRequest() run alongside it. Stays synchronous when everything it calls is, so the
 * embedded store costs no promise per request.
 */
export function evaluateThrottles(throttles: readonly Throttle[], ctx: ThrottleContext, store: ThrottleStore): Awaitable<Evaluation> {
  const decisions = new Array<ThrottleDecision | Promise<ThrottleDecision>>(throttles.length);
  // Sized for the throttles left when the first check appears: no growth, no oversized backing store.
  let checks: WindowCheck[] | undefined;
  let checkOwners: number[] | undefined;
  let checkCount = 0;
  let pending = false;

  for (let i = 0; i < throttles.length; i++) {
    const throttle = throttles[i];
    if (isBatchable(throttle)) {
      const check = throttle.planCheck(ctx);
      if (check === null) {
        decisions[i] = ALLOWED;
      } else {
        if (checks === undefined) {
          checks = new Array<WindowCheck>(throttles.length - i);
          checkOwners = new Array<number>(throttles.length - i);
        }
        checks[checkCount] = check;
        checkOwners![checkCount] = i;
        checkCount++;
      }
      continue;
    }
    const answer = throttle.allowRequest(ctx);
    if (isPromise(answer)) {
      decisions[i] = answer.then(toDecision);
      pending = true;
    } else {
      decisions[i] = toDecision(answer);
    }
  }
  if (checks !== undefined && checks.length !== checkCount) checks.length = checkOwners!.length = checkCount;

  // Wait for custom throttles from the start, so a rejection is handled even while the store answers.
  const customs = pending ? Promise.all(decisions) : null;
  if (checks === undefined) return customs === null ? combine(decisions as ThrottleDecision[]) : customs.then(combine);

  const results = store.hit(checks);
  const batch = checks;
  const owners = checkOwners!;
  if (customs !== null) {
    return Promise.all([results, customs]).then(([hitResults, settled]) => combine(decideChecks(throttles, owners, batch, hitResults, settled, ctx)));
  }
  // A networked store alone: one continuation, no Promise.all.
  if (isPromise(results)) return results.then((hitResults) => combine(decideChecks(throttles, owners, batch, hitResults, decisions as ThrottleDecision[], ctx)));
  return combine(decideChecks(throttles, owners, batch, results, decisions as ThrottleDecision[], ctx));
}

/** Turns the store's answer to each batched check into its throttle's decision, in place. */
function decideChecks(
  throttles: readonly Throttle[],
  owners: readonly number[],
  checks: readonly WindowCheck[],
  results: readonly HitResult[],
  decisions: ThrottleDecision[],
  ctx: ThrottleContext,
): ThrottleDecision[] {
  for (let j = 0; j < owners.length; j++) {
    const owner = owners[j];
    decisions[owner] = (throttles[owner] as SimpleRateThrottle).decide(checks[j], results[j], ctx);
  }
  return decisions;
}

function combine(decisions: ThrottleDecision[]): Evaluation {
  let allowed = true;
  let wait: number | null = null;
  for (const decision of decisions) {
    if (decision.allowed) continue;
    allowed = false;
    if (decision.wait !== null && (wait === null || decision.wait > wait)) wait = decision.wait;
  }
  return { allowed, wait, decisions };
}

function toDecision(answer: boolean | ThrottleDecision): ThrottleDecision {
  if (answer === true) return ALLOWED;
  if (answer === false) return DENIED;
  return answer;
}

export function isPromise<T>(value: Awaitable<T>): value is Promise<T> {
  return typeof (value as Promise<T> | null)?.then === 'function';
}
