import type { HitResult, WindowCheck } from './store.js';

/**
 * Decides one check on a store's state for its key. With `commit` false it only answers (nothing
 * is counted, no block starts); `extraCost` is added to the check's cost when deciding: the units
 * that earlier checks of the call on the same key would take (see hitBatch).
 */
export type EvaluateCheck = (check: WindowCheck, commit: boolean, extraCost: number) => HitResult;

/**
 * The one rule for the checks of one hit() call, shared by every in-process store (the Redis
 * script has its twin in Lua):
 *
 * - No check has `allOrNothing` (DRF): each check is decided and, when it allows, counted, in
 *   order, whatever the others answer.
 * - Any check has it: every check is answered first without committing; when all allow, all are
 *   decided again with commit, in order (so they count); otherwise none counts, and only the denied
 *   ones are decided with commit, which writes their blocks and nothing else (the algorithms write
 *   nothing on a denial). The allowed ones keep their uncommitted answers.
 *
 * A key checked twice in one call: in the answering pass the second check sees the first one's
 * cost (extraCost), as if it had been counted, so "all allow" means they all fit together. The
 * algorithms are linear in cost on one key (count + a + b <= limit either way), so the commit pass
 * then allows each of them too; a denied check is committed with the same extraCost, so it denies
 * again rather than count.
 */
export function hitBatch(checks: readonly WindowCheck[], evaluate: EvaluateCheck): HitResult[] {
  const results = new Array<HitResult>(checks.length);
  if (!isAllOrNothing(checks)) {
    for (let i = 0; i < checks.length; i++) results[i] = evaluate(checks[i], true, 0);
    return results;
  }
  let allAllowed = true;
  for (let i = 0; i < checks.length; i++) {
    results[i] = evaluate(checks[i], false, costBefore(checks, i));
    if (!results[i].allowed) allAllowed = false;
  }
  for (let i = 0; i < checks.length; i++) {
    if (allAllowed) results[i] = evaluate(checks[i], true, 0);
    else if (!results[i].allowed) results[i] = evaluate(checks[i], true, costBefore(checks, i));
  }
  return results;
}

/** Whether the call is all or nothing: any of its checks says so. */
export function isAllOrNothing(checks: readonly WindowCheck[]): boolean {
  for (let i = 0; i < checks.length; i++) if (checks[i].allOrNothing === true) return true;
  return false;
}

/**
 * The units the checks before `index` on the same key would take: their cost when they record, one
 * pending slot when a sliding log reserves.
 */
export function costBefore(checks: readonly WindowCheck[], index: number): number {
  const key = checks[index].key;
  let units = 0;
  for (let i = 0; i < index; i++) {
    const earlier = checks[i];
    if (earlier.key !== key) continue;
    if (earlier.record) units += earlier.cost ?? 1;
    else if (earlier.reserveMs !== undefined && (earlier.algorithm ?? 'sliding-log') === 'sliding-log') units += 1;
  }
  return units;
}
