/**
 * The pending slots of one key: reservations held by allowed checks whose outcome is not known yet
 * (see WindowCheck.reserveMs), each with its expiry. They count against the limit like hits until
 * settled or expired, so concurrent checks cannot all pass before any of them records.
 *
 * Few at a time (at most the limit, and only while requests are in flight): two parallel arrays,
 * scanned linearly, cost less than a Map.
 */
export class PendingSlots {
  private ids: string[] = [];
  private expiries: number[] = [];

  /** Slots as [id, expiry, id, expiry, ...], e.g. as read back from a cache. */
  static from(flat: readonly unknown[]): PendingSlots {
    const slots = new PendingSlots();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (typeof flat[i] === 'string' && typeof flat[i + 1] === 'number') slots.hold(flat[i] as string, flat[i + 1] as number);
    }
    return slots;
  }

  toArray(): (string | number)[] {
    const flat: (string | number)[] = [];
    for (let i = 0; i < this.ids.length; i++) flat.push(this.ids[i], this.expiries[i]);
    return flat;
  }

  get size(): number {
    return this.ids.length;
  }

  /** The latest expiry held (0 when none): the key must be kept at least that long. */
  get latestExpiry(): number {
    let latest = 0;
    for (const expiry of this.expiries) if (expiry > latest) latest = expiry;
    return latest;
  }

  /** Drops the slots expired at `now` and returns how many are left. */
  live(now: number): number {
    let kept = 0;
    for (let i = 0; i < this.ids.length; i++) {
      if (this.expiries[i] <= now) continue;
      this.ids[kept] = this.ids[i];
      this.expiries[kept] = this.expiries[i];
      kept++;
    }
    this.ids.length = this.expiries.length = kept;
    return kept;
  }

  hold(id: string, expiresAt: number): void {
    this.ids.push(id);
    this.expiries.push(expiresAt);
  }

  /** Drops a slot; false when it is not held (expired, or settled already). */
  drop(id: string): boolean {
    const index = this.ids.indexOf(id);
    if (index === -1) return false;
    this.ids.splice(index, 1);
    this.expiries.splice(index, 1);
    return true;
  }

  clear(): void {
    this.ids.length = this.expiries.length = 0;
  }
}
