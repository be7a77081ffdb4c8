import type { CountingAlgorithm } from '../../core/store.js';
import { hashTagOf } from './hash-tag.js';

/** How SimpleRateThrottle's keys start (DRF's cache format). */
const DRF_KEY_START = 'throttle_';

/**
 * The suffix of each counter algorithm's key. Each algorithm has a key of its own, so a throttle
 * whose algorithm changes starts afresh on a new key (no WRONGTYPE against the old one, which
 * expires on its own), and reset() deletes them all. Short: the name is part of every key's memory.
 */
const COUNTER_SUFFIX: Readonly<Record<Exclude<CountingAlgorithm, 'sliding-log'>, string>> = {
  'fixed-window': 'fw',
  'sliding-window': 'sw',
  gcra: 'gc',
};

/**
 * The Redis keys of a store key, all a function of the store key alone (so peek() and reset() find
 * them), and all in the hash slot of its sliding log on a Cluster, wherever that can be:
 *
 * - the sliding log: `<prefix>throttle_<scope>_{<ident>}` for DRF-format keys (the identity is the
 *   hash tag, so the keys of one request share a slot), any other key kept whole (hashed whole);
 * - its companions: pending slots (`:pending`), a sliding log's block (`:block`) and the counter
 *   algorithms' keys (`:fw`, `:sw`, `:gc`): the log's name plus the suffix when it has a hash tag,
 *   else the suffix after a tag that is the whole log's name (`<prefix>{<log>}:fw`).
 *
 * A key hashed whole that contains '}' cannot be put in a tag: on a Cluster its companions land in
 * another slot than its log. Counters do not mind (a counter key is used on its own); pending slots
 * and sliding-log blocks, which the script reads with the log, are then unavailable (null).
 */
export class RedisKeyNames {
  constructor(
    private readonly keyPrefix: string,
    private readonly cluster: boolean,
  ) {}

  /** The sliding log's key. */
  logKey(key: string): string {
    const cut = lastUnderscore(key) + 1;
    if (!key.startsWith(DRF_KEY_START) || cut <= DRF_KEY_START.length || cut === key.length) return this.keyPrefix + key;
    return `${this.keyPrefix}${key.slice(0, cut)}{${key.slice(cut)}}`;
  }

  /** The pending slots of a log key, or null when they cannot share its Cluster slot. */
  pendingKey(logKey: string): string | null {
    return this.slotCompanion(logKey, 'pending');
  }

  /** The block of a sliding log (a counter keeps its block in its own key), or null as pendingKey(). */
  blockKey(logKey: string): string | null {
    return this.slotCompanion(logKey, 'block');
  }

  /** The key a counter algorithm keeps its state in. */
  counterKey(logKey: string, algorithm: Exclude<CountingAlgorithm, 'sliding-log'>): string {
    return this.companion(logKey, COUNTER_SUFFIX[algorithm]);
  }

  /** The key of a check under its algorithm: the log, or the counter. */
  keyOf(key: string, algorithm: CountingAlgorithm | undefined): string {
    const log = this.logKey(key);
    return algorithm === undefined || algorithm === 'sliding-log' ? log : this.counterKey(log, algorithm);
  }

  /** Every name a store key may have, for reset(). */
  allNames(key: string): string[] {
    const log = this.logKey(key);
    const names = [log, this.companion(log, 'fw'), this.companion(log, 'sw'), this.companion(log, 'gc')];
    const pending = this.pendingKey(log);
    const block = this.blockKey(log);
    if (pending !== null) names.push(pending);
    if (block !== null) names.push(block);
    return names;
  }

  private slotCompanion(logKey: string, suffix: string): string | null {
    if (this.cluster && hashTagOf(logKey) === logKey && logKey.includes('}')) return null;
    return this.companion(logKey, suffix);
  }

  private companion(logKey: string, suffix: string): string {
    if (hashTagOf(logKey) !== logKey) return `${logKey}:${suffix}`;
    return `${this.keyPrefix}{${logKey}}:${suffix}`;
  }
}

/** key.lastIndexOf('_'), as a loop: V8 runs lastIndexOf in C++, which costs more than these few characters. */
function lastUnderscore(key: string): number {
  let i = key.length - 1;
  while (i >= 0 && key.charCodeAt(i) !== 95) i--;
  return i;
}
