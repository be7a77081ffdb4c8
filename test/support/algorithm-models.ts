/**
 * Reference models of the counting algorithms (lib/core/algorithms/): the simplest implementations
 * that are obviously right, over the full list of a key's admitted requests, with waits found by
 * trying every millisecond where the core solves an equation. Slow on purpose; tests only.
 */
import type { AlgorithmOutcome } from '../../lib/core/algorithms/algorithm-outcome.js';

export interface ModelCheck {
  readonly limit: number;
  readonly periodMs: number;
  readonly cost: number;
  /** gcra only. */
  readonly burst?: number;
}

interface Admitted {
  readonly time: number;
  readonly cost: number;
}

/** One key of one algorithm. */
export interface AlgorithmModel {
  hit(check: ModelCheck, now: number): AlgorithmOutcome;
}

const windowOf = (time: number, periodMs: number) => Math.floor(time / periodMs);

/** Fixed window: the costs admitted in now's aligned window. */
export class FixedWindowModel implements AlgorithmModel {
  private readonly admitted: Admitted[] = [];

  hit({ limit, periodMs, cost }: ModelCheck, now: number): AlgorithmOutcome {
    const used = () => sum(this.admitted.filter((a) => windowOf(a.time, periodMs) === windowOf(now, periodMs)));
    const allowed = used() + cost <= limit;
    if (allowed) this.admitted.push({ time: now, cost });
    const windowEnd = (windowOf(now, periodMs) + 1) * periodMs;
    return { allowed, limit, remaining: limit - used(), resetMs: windowEnd - now, waitMs: allowed ? 0 : cost > limit ? null : windowEnd - now };
  }
}

/** Sliding window counter: the definition of the estimate over the admitted list. */
export class SlidingWindowModel implements AlgorithmModel {
  readonly admitted: Admitted[] = [];

  /** previous * (1 - elapsed / period) + current, at `at`, for the requests admitted so far. */
  estimate(at: number, periodMs: number): number {
    const window = windowOf(at, periodMs);
    if (window !== this.countedWindow || periodMs !== this.countedPeriod || this.admitted.length !== this.countedLength) {
      // Summed again only when the window or the list changed: the waits try every millisecond.
      this.current = sum(this.admitted.filter((a) => windowOf(a.time, periodMs) === window));
      this.previousCount = sum(this.admitted.filter((a) => windowOf(a.time, periodMs) === window - 1));
      this.countedWindow = window;
      this.countedLength = this.admitted.length;
      this.countedPeriod = periodMs;
    }
    return this.previousCount * (1 - (at - window * periodMs) / periodMs) + this.current;
  }

  private countedWindow = Number.NaN;
  private countedLength = 0;
  private countedPeriod = 0;
  private current = 0;
  private previousCount = 0;

  /** The previous window's count at `at`. */
  previous(at: number, periodMs: number): number {
    return sum(this.admitted.filter((a) => windowOf(a.time, periodMs) === windowOf(at, periodMs) - 1));
  }

  hit({ limit, periodMs, cost }: ModelCheck, now: number): AlgorithmOutcome {
    const allowed = this.estimate(now, periodMs) + cost <= limit;
    if (allowed) this.admitted.push({ time: now, cost });
    const remaining = Math.max(0, Math.floor(limit - this.estimate(now, periodMs)));
    const firstFit = (units: number): number | null => {
      if (units > limit) return null;
      // The estimate is 0 two periods on: the search always ends.
      for (let t = now; ; t++) if (this.estimate(t, periodMs) + units <= limit) return t - now;
    };
    return { allowed, limit, remaining, resetMs: firstFit(Math.min(remaining + 1, limit)) ?? 0, waitMs: allowed ? 0 : firstFit(cost) };
  }
}

/**
 * GCRA's reference: the token bucket it is equivalent to. Capacity burst, refilled at limit per
 * period, tokens counted in 1/period units so that every step is an integer.
 */
export class TokenBucketModel implements AlgorithmModel {
  private level: number | null = null;
  private last = 0;

  hit({ limit, periodMs, cost, burst = limit }: ModelCheck, now: number): AlgorithmOutcome {
    const capacity = burst * periodMs;
    // Tokens earned since the last request: limit per period, i.e. limit per ms in these units.
    const level = this.level === null ? capacity : Math.min(capacity, this.level + (now - this.last) * limit);
    const allowed = level >= cost * periodMs;
    this.level = allowed ? level - cost * periodMs : level;
    this.last = now;
    const remaining = Math.floor(this.level / periodMs);
    const waitFor = (units: number) => Math.max(0, Math.ceil((units * periodMs - this.level!) / limit));
    return {
      allowed,
      limit: burst,
      remaining,
      resetMs: remaining >= burst ? 0 : waitFor(remaining + 1),
      waitMs: allowed ? 0 : cost > burst ? null : waitFor(cost),
    };
  }
}

/**
 * The sliding log with a cost: the units admitted in (now - period, now], reset and wait found by
 * trying every millisecond (every unit has left a period on, so the search ends).
 */
export class SlidingLogModel implements AlgorithmModel {
  readonly admitted: Admitted[] = [];

  hit({ limit, periodMs, cost }: ModelCheck, now: number): AlgorithmOutcome {
    const count = (at: number) => slidingLogCount(this.admitted, at, periodMs);
    const allowed = count(now) + cost <= limit;
    if (allowed) this.admitted.push({ time: now, cost });
    const after = count(now);
    const remaining = Math.max(0, limit - after);
    const firstFrom = (fits: (at: number) => boolean): number => {
      for (let t = now; ; t++) if (fits(t)) return t - now;
    };
    return {
      allowed,
      limit,
      remaining,
      // Ms until remaining grows; an empty window never grows, and reports a whole window.
      resetMs: after === 0 ? periodMs : firstFrom((t) => Math.max(0, limit - count(t)) > remaining),
      waitMs: allowed ? 0 : cost > limit ? null : firstFrom((t) => count(t) + cost <= limit),
    };
  }
}

/**
 * blockFor over any model: the history of blocks; a request inside one is refused uncounted, and a
 * denial with a wait outside any starts one of max(blockFor, wait).
 */
export class BlockForModel implements AlgorithmModel {
  private readonly blocks: { start: number; end: number }[] = [];

  constructor(
    private readonly inner: AlgorithmModel,
    private readonly blockForMs: number,
  ) {}

  hit(check: ModelCheck, now: number): AlgorithmOutcome {
    const limit = check.burst ?? check.limit;
    const block = this.blocks.find((b) => b.start <= now && now < b.end);
    if (block) return { allowed: false, limit, remaining: 0, resetMs: block.end - now, waitMs: block.end - now };
    const outcome = this.inner.hit(check, now);
    if (outcome.allowed || outcome.waitMs === null || this.blockForMs <= 0) return outcome;
    const left = Math.max(this.blockForMs, outcome.waitMs);
    this.blocks.push({ start: now, end: now + left });
    return { allowed: false, limit, remaining: 0, resetMs: left, waitMs: left };
  }
}

/** The exact sliding log's count: units admitted in (now - period, now]. */
export function slidingLogCount(admitted: readonly Admitted[], now: number, periodMs: number): number {
  return sum(admitted.filter((a) => a.time > now - periodMs && a.time <= now));
}

function sum(admitted: readonly Admitted[]): number {
  let total = 0;
  for (const a of admitted) total += a.cost;
  return total;
}
