import type { HitResult, WindowCheck } from '../core/store.js';

/** Slots of the table: a power of two (about 160 KB). Enough for the keys a process is busy with. */
const DEFAULT_SLOTS = 4096;

/**
 * The last window this process saw in the shared store for each recently used key, and the calls
 * it sent since that were not answered, so that the 'local' fallback counts on from them instead of
 * from zero: a process that saw a key full, or sent the store as many calls for it as the limit,
 * admits nothing more for it during an outage until those hits leave the window. (A call sent and
 * not answered may well have been counted by the store: it is counted here too.)
 *
 * A fixed table, direct-mapped by a hash of the key: noting an answer costs a hash of the key and a
 * few array writes, allocates nothing, and memory never grows. A key whose slot another key took
 * since is not known (its fallback starts from zero, as it would without this table).
 *
 * Times are translated to the local clock by age (the store's `now - oldest`), so a store on the
 * server's clock and a local store on the process's clock agree. What is kept is conservative: the
 * oldest hit at its time, every other hit at the time it was seen, so the local count frees slots no
 * sooner than the shared one would have.
 */
export class SeenWindows {
  private readonly keys: (string | null)[];
  private readonly windows: Float64Array;
  private readonly counts: Float64Array;
  private readonly oldestAt: Float64Array;
  private readonly seenAt: Float64Array;
  /** Calls sent for the key and not answered (yet), and when the last of them was sent. */
  private readonly pending: Float64Array;
  private readonly sentAt: Float64Array;
  private readonly mask: number;

  constructor(slots = DEFAULT_SLOTS) {
    this.mask = slots - 1;
    this.keys = new Array<string | null>(slots).fill(null);
    this.windows = new Float64Array(slots);
    this.counts = new Float64Array(slots);
    this.oldestAt = new Float64Array(slots);
    this.seenAt = new Float64Array(slots);
    this.pending = new Float64Array(slots);
    this.sentAt = new Float64Array(slots);
  }

  /** Notes a call sent to the store for the check, at local time `localNow`. */
  sent(check: WindowCheck, localNow: number): void {
    const slot = this.slotFor(check);
    this.pending[slot] += check.cost ?? 1;
    this.sentAt[slot] = localNow;
  }

  /** Forgets one unanswered call for the check (its request was counted elsewhere: by the local store). */
  unsent(check: WindowCheck): void {
    const slot = slotOf(check) & this.mask;
    if (this.keys[slot] === check.key && this.windows[slot] === check.windowMs) this.pending[slot] = Math.max(0, this.pending[slot] - (check.cost ?? 1));
  }

  /** Notes what the store answered for a check (sent before), at local time `localNow`. */
  note(check: WindowCheck, result: HitResult, localNow: number): void {
    const slot = this.slotFor(check);
    this.pending[slot] = Math.max(0, this.pending[slot] - (check.cost ?? 1));
    if (result.uncounted === true) return;
    // An allowed, recorded check added this request's units after counting; an answer in units says
    // what is in use after it (a counter's state has no hit times: all of it is taken as seen now).
    const outcome = result.outcome;
    this.counts[slot] = outcome !== undefined ? outcome.limit - outcome.remaining : result.count + (result.allowed && check.record ? 1 : 0);
    this.oldestAt[slot] = result.oldest === null ? localNow : localNow - (result.now - result.oldest);
    this.seenAt[slot] = localNow;
  }

  /**
   * The seen hits of the key still inside a window of `windowMs` at local time `now` (0 when the key
   * is not known), and the local time of the oldest of them (null when none).
   */
  inWindow(check: Pick<WindowCheck, 'key'>, windowMs: number, now: number): { count: number; oldest: number | null } {
    const slot = slotOf(check) & this.mask;
    if (this.keys[slot] !== check.key || this.windows[slot] !== windowMs) return NONE;
    const cutoff = now - windowMs;
    const count = this.counts[slot];
    const oldestAt = this.oldestAt[slot];
    const seenAt = this.seenAt[slot];
    let inside = 0;
    let oldest: number | null = null;
    if (count > 0 && oldestAt > cutoff) {
      inside = count;
      oldest = oldestAt;
    } else if (count > 1 && seenAt > cutoff) {
      inside = count - 1;
      oldest = seenAt;
    }
    // Unanswered calls, as hits at the time the last of them was sent.
    if (this.pending[slot] > 0 && this.sentAt[slot] > cutoff) {
      inside += this.pending[slot];
      if (oldest === null) oldest = this.sentAt[slot];
    }
    return inside === 0 ? NONE : { count: inside, oldest };
  }

  /** The check's slot, taken over (emptied) when it held another key or window. */
  private slotFor(check: WindowCheck): number {
    const slot = slotOf(check) & this.mask;
    if (this.keys[slot] !== check.key || this.windows[slot] !== check.windowMs) {
      this.keys[slot] = check.key;
      this.windows[slot] = check.windowMs;
      this.counts[slot] = 0;
      this.pending[slot] = 0;
      this.sentAt[slot] = 0;
    }
    return slot;
  }
}

const NONE = { count: 0, oldest: null } as const;

/** FNV-1a over the key's characters. */
function slotOf(check: Pick<WindowCheck, 'key'>): number {
  return hashText(check.key, 0x811c9dc5);
}

function hashText(text: string, hash: number): number {
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
