import type { AlgorithmOutcome, BlockableState } from './algorithm-outcome.js';

/**
 * blockFor, over any algorithm: once the algorithm denies, the key is refused for blockForMs
 * without being counted (brute force protection). A request refused during a block does not
 * extend it (DESIGN.md). The rule lives here once; the algorithms never see a blocked request.
 *
 * The block lasts blockForMs, or the algorithm's own wait when that is longer, so a client that
 * retries after the Retry-After it was given is not refused again (and blocked anew) by the
 * algorithm. A denial that could never pass (wait null: cost above limit or burst) starts no
 * block: it says nothing about the client's pace.
 *
 * During a block: remaining 0 (nothing is admitted), reset and wait = the time left of the block.
 *
 * commit false only answers (neither the algorithm nor the block writes): a store checks every
 * throttle of a request so first, then commits all of them when all allow, else the denied ones
 * only, which writes their blocks and nothing else (all or nothing across throttles: the
 * algorithms write nothing on a denial).
 */
export function hitWithBlock<S extends BlockableState, C>(
  state: S,
  check: C,
  now: number,
  blockForMs: number,
  limit: number,
  hit: (state: S, check: C, now: number, commit: boolean) => AlgorithmOutcome,
  commit = true,
): AlgorithmOutcome {
  return blockedOutcome(state, now, limit) ?? startBlockOnDenial(state, hit(state, check, now, commit), now, blockForMs, commit);
}

/** The refusal of a key inside its block, or null when none is running (then the algorithm decides). */
export function blockedOutcome(state: BlockableState, now: number, limit: number): AlgorithmOutcome | null {
  if (now >= state.blockedUntil) return null;
  const left = state.blockedUntil - now;
  return { allowed: false, limit, remaining: 0, resetMs: left, waitMs: left };
}

/**
 * What the algorithm decided, turned into the start of a block when it denied with a wait (and
 * blockForMs is set): for the sliding log, whose decision is made outside hitWithBlock's callback.
 */
export function startBlockOnDenial(state: BlockableState, outcome: AlgorithmOutcome, now: number, blockForMs: number, commit: boolean): AlgorithmOutcome {
  if (outcome.allowed || outcome.waitMs === null || blockForMs <= 0) return outcome;
  const left = Math.max(blockForMs, outcome.waitMs);
  if (commit) state.blockedUntil = now + left;
  return { allowed: false, limit: outcome.limit, remaining: 0, resetMs: left, waitMs: left };
}

/** Ms the key must be kept for its block (0 when none is running). */
export function blockRetentionMs(state: BlockableState, now: number): number {
  return Math.max(0, state.blockedUntil - now);
}
