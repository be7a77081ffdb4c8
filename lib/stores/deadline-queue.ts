import { performance } from 'node:perf_hooks';

/**
 * Why a call expired: 'stalled' when the store answered none of our calls for the timeout since
 * this one was written (it is not answering: evidence of an outage); 'overdue' when answers kept
 * coming but this call reached the hard bound (a long queue of our own, not an outage).
 */
export type ExpiryReason = 'stalled' | 'overdue';

/** A call waiting for its answer; `expire` runs if it is still unsettled at its deadline. */
export interface Waiter {
  /** When its time started (the end of its turn); Infinity until then (see DeadlineQueue). */
  start: number;
  settled: boolean;
  readonly expire: (reason: ExpiryReason) => void;
}

/** The hard bound on one call, as a multiple of the timeout: answers that keep coming never hold a call longer. */
export const HARD_BOUND_TIMEOUTS = 10;

/**
 * Timeouts for many calls that all share one duration, with one timer instead of one per call.
 *
 * A timeout means "the store did not answer", not "our own queue was long": a call expires when the
 * store has answered none of our calls for `timeoutMs` since the call was written, or since the last
 * answer (`progress()`). A burst of calls on a healthy store is answered one after another, each answer
 * pushing the others' deadlines out; a stopped store answers nothing, and the calls expire on time.
 * A hard bound (HARD_BOUND_TIMEOUTS x timeoutMs from when it was written) still caps every call.
 *
 * A timeout is there to catch a store that is down or slow, not a process that is busy, so two rules
 * keep this process's own work off the store's clock:
 * - A call's time starts at the end of the event-loop turn that made it (a setImmediate), not when it
 *   was made: a networked store sends the turn's commands then (RedisThrottleStore holds them until
 *   that turn's setImmediate), and a burst of requests that keeps the turn busy for longer than the
 *   timeout would otherwise expire the first calls before their commands were even written.
 * - A deadline is enforced only after the process has read what already waits on its sockets: the
 *   timer hands over to a setImmediate, which runs after the poll phase. A reply that arrived while
 *   the process was busy settles its call before the deadline is looked at.
 *
 * Start times are stamped per turn, in the order calls were added, and the deadline of a call,
 * min(start + hard bound, max(start, last answer) + timeout), grows with its start: the FIFO queue
 * is sorted by deadline by construction and one timer armed for the head covers every call. Settling a call only flags it;
 * the expiry skips flagged entries. O(1) amortized per call, no timer churn on the hot path.
 */
export class DeadlineQueue {
  private waiters: Waiter[] = [];
  private head = 0;
  /** The first waiter added during the current turn, whose deadline is not stamped yet. */
  private unstamped = 0;
  private stampPending: ReturnType<typeof setImmediate> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private expiryPending: ReturnType<typeof setImmediate> | undefined;
  /** When the store last answered one of our calls (performance.now()). */
  private lastProgress = -Infinity;
  /** When the timer last ran: the poll that followed read every reply that had arrived by then. */
  private polledAfter = -Infinity;
  private readonly hardBoundMs: number;

  constructor(private readonly timeoutMs: number) {
    this.hardBoundMs = timeoutMs * HARD_BOUND_TIMEOUTS;
  }

  /** Adds a call; the returned waiter is flagged `settled` by the caller when it answers. */
  add(expire: (reason: ExpiryReason) => void): Waiter {
    const waiter: Waiter = { start: Infinity, settled: false, expire };
    this.waiters.push(waiter);
    if (this.stampPending === undefined) {
      // Not unref'd: Node's poll phase blocks when only unref'd immediates are pending, so one
      // would wait for unrelated I/O. It runs in this very turn, so it keeps no process alive.
      this.stampPending = setImmediate(this.stamp);
    }
    return waiter;
  }

  /** The store answered one of our calls: it is making progress, and calls still waiting get more time. */
  progress(): void {
    this.lastProgress = performance.now();
  }

  /** Stops the timers (pending calls then never time out: only for shutdown). */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.stampPending !== undefined) clearImmediate(this.stampPending);
    if (this.expiryPending !== undefined) clearImmediate(this.expiryPending);
    this.timer = this.stampPending = this.expiryPending = undefined;
    this.waiters = [];
    this.head = this.unstamped = 0;
  }

  /** The end of the turn: the calls it made start their time now. */
  private readonly stamp = (): void => {
    this.stampPending = undefined;
    const start = performance.now();
    const waiters = this.waiters;
    for (let i = this.unstamped; i < waiters.length; i++) waiters[i].start = start;
    this.unstamped = waiters.length;
    if (this.timer === undefined && this.expiryPending === undefined) this.arm(this.timeoutMs);
  };

  private arm(delayMs: number): void {
    this.timer = setTimeout(this.due, Math.max(0, Math.ceil(delayMs)));
    this.timer.unref?.();
  }

  /** The timer ran (timers phase): read the sockets first, expire after (check phase). */
  private readonly due = (): void => {
    this.timer = undefined;
    this.polledAfter = performance.now();
    this.expiryPending = setImmediate(this.expire);
  };

  private readonly expire = (): void => {
    this.expiryPending = undefined;
    // Only deadlines that passed before the poll began are enforced: a reply that arrived while that
    // poll ran callbacks (a long batch of requests) is read by the next one, not taken for silence.
    const now = this.polledAfter;
    const waiters = this.waiters;
    // Unstamped waiters have an infinite deadline, so the loop stops at the first unanswered one.
    let nextDeadline = Infinity;
    while (this.head < waiters.length) {
      const waiter = waiters[this.head];
      if (!waiter.settled) {
        const deadline = this.deadlineOf(waiter);
        if (deadline > now) {
          nextDeadline = deadline;
          break;
        }
        waiter.settled = true;
        this.head++;
        waiter.expire(this.stalledSince(waiter) + this.timeoutMs <= now ? 'stalled' : 'overdue');
        continue;
      }
      this.head++;
    }
    // Answered calls are passed over whether stamped or not: one answered within the turn that made
    // it (a store that replies at once) can be behind the head before its turn's stamp has run. The
    // stamp must start at the head then, or the compaction below would move its start below zero.
    if (this.unstamped < this.head) this.unstamped = this.head;
    // Drop the consumed prefix now and then, so the array does not grow for ever.
    if (this.head > 1024 && this.head * 2 > waiters.length) {
      this.waiters = waiters.slice(this.head);
      this.unstamped -= this.head;
      this.head = 0;
    }
    if (this.head === this.waiters.length) {
      this.waiters = [];
      this.head = this.unstamped = 0;
    } else if (this.head < this.unstamped) {
      this.arm(nextDeadline - now);
    }
    // Otherwise every waiter left was added this turn: its stamp arms the timer.
  };

  /** Since when the store has answered none of our calls, as far as this call is concerned. */
  private stalledSince(waiter: Waiter): number {
    return waiter.start > this.lastProgress ? waiter.start : this.lastProgress;
  }

  private deadlineOf(waiter: Waiter): number {
    const stalled = this.stalledSince(waiter) + this.timeoutMs;
    const hard = waiter.start + this.hardBoundMs;
    return stalled < hard ? stalled : hard;
  }
}
