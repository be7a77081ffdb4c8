/**
 * The hit times of one key, oldest first, in a growable ring buffer.
 *
 * A sliding log needs "drop the oldest while too old", "count", "oldest" and "append": a ring buffer
 * makes each of those O(1) (amortized for growth), whatever the limit, with one array of numbers per
 * key instead of one object per hit.
 */
export class HitLog {
  private times: number[];
  private head = 0;
  private length = 0;
  /** When the key may be forgotten (ms): refreshed on every write. */
  expiresAt = 0;

  constructor(initialCapacity = 4) {
    this.times = emptyTimes(Math.max(1, initialCapacity));
  }

  /** A log holding the given times (sorted, oldest first), e.g. as read back from a cache. */
  static from(times: readonly number[]): HitLog {
    const log = new HitLog(times.length + 1);
    for (const time of times) log.push(time);
    return log;
  }

  /** The hits, oldest first, as a plain array (e.g. to write to a cache). */
  toArray(): number[] {
    const times = new Array<number>(this.length);
    for (let i = 0; i < this.length; i++) times[i] = this.at(i);
    return times;
  }

  get size(): number {
    return this.length;
  }

  /** The oldest hit; only meaningful when size > 0. */
  get oldest(): number {
    return this.times[this.head];
  }

  /** The i-th hit from the oldest (0 = oldest). */
  at(index: number): number {
    // A compare instead of %, which compiles to an integer division.
    let slot = this.head + index;
    if (slot >= this.times.length) slot -= this.times.length;
    return this.times[slot];
  }

  /**
   * Drops the hits at or before `cutoff` (DRF: `while history and history[-1] <= now - duration`),
   * at most `maxDropped` of them. Returns true when it stopped at that bound with hits at or before
   * `cutoff` left at the head: then `countAfter(cutoff)` is the count, not `size`.
   */
  dropUpTo(cutoff: number, maxDropped = Infinity): boolean {
    const times = this.times;
    const capacity = times.length;
    let dropped = 0;
    while (this.length > 0 && times[this.head] <= cutoff) {
      if (dropped === maxDropped) return true;
      this.head = this.head + 1 === capacity ? 0 : this.head + 1;
      this.length--;
      dropped++;
    }
    // Give memory back after a burst: a quiet key should not keep a buffer sized for its peak.
    if (capacity > 1024 && this.length < capacity >>> 3) this.resize(capacity >>> 2);
    return false;
  }

  /** Appends a hit. Times must not go backwards; a clock that does is clamped to the newest hit. */
  push(time: number): void {
    if (this.length === this.times.length) this.resize(this.times.length * 2);
    const capacity = this.times.length;
    let tail = this.head + this.length;
    if (tail >= capacity) tail -= capacity;
    if (this.length > 0) {
      const newest = this.times[tail === 0 ? capacity - 1 : tail - 1];
      if (time < newest) time = newest;
    }
    this.times[tail] = time;
    this.length++;
  }

  /**
   * How many hits are after `cutoff`, i.e. still inside the window (for peeking). Hits are sorted, so
   * a binary search answers when older hits are still kept (recorded by `accessed` and not yet pruned
   * by a check); the common case, where the oldest is already inside, is answered at once.
   */
  countAfter(cutoff: number): number {
    if (this.length === 0 || this.oldest > cutoff) return this.length;
    let low = 0;
    let high = this.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.at(mid) <= cutoff) low = mid + 1;
      else high = mid;
    }
    return this.length - low;
  }

  clear(): void {
    this.head = 0;
    this.length = 0;
  }

  private resize(capacity: number): void {
    const next = emptyTimes(capacity);
    for (let i = 0; i < this.length; i++) next[i] = this.at(i);
    this.times = next;
    this.head = 0;
  }
}

/**
 * `capacity` slots for hit times: a plain array, not a Float64Array. A typed array of more than 64
 * bytes keeps its memory outside the JS heap (a malloc, and bookkeeping that every garbage collection
 * pays), so each growth of a busy key's log cost several times an ordinary allocation, and each key
 * some 150 bytes more. Filled with a fraction, the array holds unboxed doubles from the start; filled
 * with 0 it would start as small integers and be copied when the first hit time is written.
 */
function emptyTimes(capacity: number): number[] {
  return new Array<number>(capacity).fill(0.5);
}
