import type { HitResult, ThrottleStore } from '../../lib/core/store.js';

/** A networked store stand-in: each hit() waits for the test to answer or fail it by hand. */
export class ManualStore implements ThrottleStore {
  readonly calls: { resolve: (results: HitResult[]) => void; reject: (error: Error) => void }[] = [];

  hit(): Promise<HitResult[]> {
    return new Promise((resolve, reject) => this.calls.push({ resolve, reject }));
  }
  record(): void {}
  peek() {
    return { count: 0, oldest: null, now: 0 };
  }
  reset(): void {}
}
