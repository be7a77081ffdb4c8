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
  /**
   * When evaluated with `reserve`: per throttle, what its reserve() held (a reservation, or null when
   * none was); undefined for throttles checked without one. Settle with settleEvaluation().
   */
  readonly reservations?: (string | null | undefined)[];
}

/**
 * DRF's APIView.check_throttles(): every throttle sees every request, none short-circuits, so a
 * throttle that passes records its hit even when another one denies. The request is denied if any
 * throttle denies, and the wait is the largest non-null wait of those that denied.
 *
 * Rate throttles that keep the stock allowRequest() are batched into one store call; throttles with
 * their own allowRequest() run alongside it. Stays synchronous when everything it calls is, so the
 * embedded store costs no promise per request.
 *
 * With `reserve`, throttles that can reserve (Tastypie's CacheThrottle) hold a slot when they allow,
 * for an outcome settled later (settleEvaluation()); the others are evaluated as usual.
 */
export function evaluateThrottles(throttles: readonly Throttle[], ctx: ThrottleContext, store: ThrottleStore, reserve = false): Awaitable<Evaluation> {
  const decisions = new Array<ThrottleDecision | Promise<ThrottleDecision>>(throttles.length);
  let reservations: (string | null | undefined)[] | undefined;
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
    if (reserve && throttle.reserve !== undefined) {
      const held = (reservations ??= new Array<string | null | undefined>(throttles.length));
      const reserved = throttle.reserve(ctx);
      if (isPromise(reserved)) {
        decisions[i] = reserved.then((answer) => ((held[i] = answer.reservation), answer.decision));
        pending = true;
      } else {
        held[i] = reserved.reservation;
        decisions[i] = reserved.decision;
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
  if (checks === undefined) return customs === null ? combine(decisions as ThrottleDecision[], reservations) : customs.then((settled) => combine(settled, reservations));

  const results = store.hit(checks);
  const batch = checks;
  const owners = checkOwners!;
  if (customs !== null) {
    return Promise.all([results, customs]).then(([hitResults, settled]) => combine(decideChecks(throttles, owners, batch, hitResults, settled, ctx), reservations));
  }
  // A networked store alone: one continuation, no Promise.all.
  if (isPromise(results)) return results.then((hitResults) => combine(decideChecks(throttles, owners, batch, hitResults, decisions as ThrottleDecision[], ctx), reservations));
  return combine(decideChecks(throttles, owners, batch, results, decisions as ThrottleDecision[], ctx), reservations);
}

/**
 * Settles an evaluation's outcome with the throttles that record later: commit (the request counts:
 * a reservation becomes its access, a throttle without one records with accessed()) or release (it
 * does not: reservations are dropped). Rate throttles, which recorded at the check, are left alone.
 */
export function settleEvaluation(throttles: readonly Throttle[], ctx: ThrottleContext, reservations: Evaluation['reservations'], commit: boolean): Awaitable<void> {
  let waits: Promise<void>[] | undefined;
  for (let i = 0; i < throttles.length; i++) {
    const throttle = throttles[i];
    const reservation = reservations?.[i];
    let done: Awaitable<void> | undefined;
    if (reservation !== undefined && throttle.settle !== undefined) done = throttle.settle(ctx, reservation, commit);
    else if (commit) done = throttle.accessed?.(ctx);
    if (isPromise(done)) (waits ??= []).push(done);
  }
  return waits === undefined ? undefined : Promise.all(waits).then(() => undefined);
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

function combine(decisions: ThrottleDecision[], reservations: Evaluation['reservations']): Evaluation {
  let allowed = true;
  let wait: number | null = null;
  for (const decision of decisions) {
    if (decision.allowed) continue;
    allowed = false;
    if (decision.wait !== null && (wait === null || decision.wait > wait)) wait = decision.wait;
  }
  return reservations === undefined ? { allowed, wait, decisions } : { allowed, wait, decisions, reservations };
}

function toDecision(answer: boolean | ThrottleDecision): ThrottleDecision {
  if (answer === true) return ALLOWED;
  if (answer === false) return DENIED;
  return answer;
}

export function isPromise<T>(value: Awaitable<T>): value is Promise<T> {
  return typeof (value as Promise<T> | null)?.then === 'function';
}
