import { performance } from 'node:perf_hooks';

/** A call waiting for its answer; `expire` runs if it is still unsettled at its deadline. */
export interface Waiter {
  /** Infinity until the end of the event-loop turn that added it (see DeadlineQueue). */
  deadline: number;
  settled: boolean;
  readonly expire: () => void;
}

/**
 * Timeouts for many calls that all share one duration, with one timer instead of one per call.
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
 * Deadlines are stamped per turn, in the order calls were added, so the FIFO queue is sorted by
 * construction and one timer armed for the head covers every call. Settling a call only flags it;
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

  constructor(private readonly timeoutMs: number) {}

  /** Adds a call; the returned waiter is flagged `settled` by the caller when it answers. */
  add(expire: () => void): Waiter {
    const waiter: Waiter = { deadline: Infinity, settled: false, expire };
    this.waiters.push(waiter);
    if (this.stampPending === undefined) {
      // Not unref'd: Node's poll phase blocks when only unref'd immediates are pending, so one
      // would wait for unrelated I/O. It runs in this very turn, so it keeps no process alive.
      this.stampPending = setImmediate(this.stamp);
    }
    return waiter;
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
    const deadline = performance.now() + this.timeoutMs;
    const waiters = this.waiters;
    for (let i = this.unstamped; i < waiters.length; i++) waiters[i].deadline = deadline;
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
    this.expiryPending = setImmediate(this.expire);
  };

  private readonly expire = (): void => {
    this.expiryPending = undefined;
    const now = performance.now();
    const waiters = this.waiters;
    // Unstamped waiters have an infinite deadline, so the loop stops at the first unanswered one.
    while (this.head < waiters.length) {
      const waiter = waiters[this.head];
      if (!waiter.settled && waiter.deadline > now) break;
      this.head++;
      if (!waiter.settled) {
        waiter.settled = true;
        waiter.expire();
      }
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
      this.arm(this.waiters[this.head].deadline - now);
    }
    // Otherwise every waiter left was added this turn: its stamp arms the timer.
  };
}
