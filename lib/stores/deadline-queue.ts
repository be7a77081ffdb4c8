import { performance } from 'node:perf_hooks';

/** A call waiting for its answer; `expire` runs if it is still unsettled at its deadline. */
export interface Waiter {
  readonly deadline: number;
  settled: boolean;
  readonly expire: () => void;
}

/**
 * Timeouts for many calls that all share one duration, with one timer instead of one per call.
 *
 * Calls start in order and wait equally long, so their deadlines come in the order they were added:
 * a FIFO queue is sorted by construction, and one timer armed for the head covers every call.
 * Settling a call only flags it; the timer skips flagged entries. O(1) per call, no timer churn on
 * the hot path of a networked store.
 */
export class DeadlineQueue {
  private waiters: Waiter[] = [];
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** Arms a deadline for one call; the returned waiter is flagged `settled` by the caller when it answers. */
  add(expire: () => void): Waiter {
    const waiter: Waiter = { deadline: performance.now() + this.timeoutMs, settled: false, expire };
    this.waiters.push(waiter);
    if (this.timer === undefined) this.arm(this.timeoutMs);
    return waiter;
  }

  /** Stops the timer (pending calls then never time out: only for shutdown). */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiters = [];
    this.head = 0;
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(this.fire, Math.max(0, Math.ceil(delayMs)));
    this.timer.unref?.();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = performance.now();
    const waiters = this.waiters;
    while (this.head < waiters.length) {
      const waiter = waiters[this.head];
      if (!waiter.settled && waiter.deadline > now) break;
      this.head++;
      if (!waiter.settled) {
        waiter.settled = true;
        waiter.expire();
      }
    }
    // Drop the consumed prefix now and then, so the array does not grow for ever.
    if (this.head > 1024 && this.head * 2 > waiters.length) {
      this.waiters = waiters.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.waiters.length) this.arm(this.waiters[this.head].deadline - now);
    else {
      this.waiters = [];
      this.head = 0;
    }
  };
}
