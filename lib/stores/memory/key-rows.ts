/** What a counter row holds: its algorithm (0 = a freed row). */
export const ROW_FIXED_WINDOW = 1;
export const ROW_SLIDING_WINDOW = 2;
export const ROW_GCRA = 3;
export type CounterRowKind = typeof ROW_FIXED_WINDOW | typeof ROW_SLIDING_WINDOW | typeof ROW_GCRA;

/**
 * A sliding log's entry, linked into the list itself: links between two logs are plain references
 * (a check on a log then reads no column), a counter row as a neighbour is its row number.
 */
export interface LinkedLog {
  readonly key: string;
  older: RecencyNode<LinkedLog> | null;
  newer: RecencyNode<LinkedLog> | null;
  /** Its slot in the logs' column, by which a counter row's links name it (as ~slot). */
  slot: number;
}

/** A key in the recency list: a sliding log's entry, or a counter row's number. */
export type RecencyNode<Log extends LinkedLog> = Log | number;

/** No row in a counter row's links (an end of the list) or in a free list. */
export const NO_ROW = 0x7fffffff;
/** Rows allocated at first per table; the columns double from there, up to the most keys the store holds. */
const INITIAL_ROWS = 1024;

/**
 * The memory store's keys, linked into one least-recently-used list whatever their algorithm.
 *
 * A counter key (fixed-window, sliding-window, gcra) is a row of parallel typed arrays
 * ("columns"): three numbers in a/b/c, its algorithm, its links and its key. Typed arrays hold the
 * numbers unboxed and without an object: Node's V8 has no pointer compression, so an object per
 * key costs a 24 B header, 8 B a field and a 16 B box per time, twice the issue's 120 B per idle
 * key. The columns double as keys come, up to the most the store holds.
 *
 * A sliding log keeps its entry object (its hits), which carries its own links: DRF's path touches
 * no column. Its slot in the logs' column names it in a counter row's links (a negative link, ~slot).
 *
 * The counter columns (lib/stores/memory/counter-rows.ts reads and writes them) make `a` the time
 * the key may be forgotten after, so the sweep reads one number and no expiry is stored.
 */
export class KeyRows<Log extends LinkedLog> {
  kind: Uint8Array;
  a: Float64Array;
  b: Float64Array;
  c: Float64Array;
  private counterKey: (string | undefined)[];
  /** A counter row's neighbours: a row >= 0, a log as ~slot, NO_ROW for none. */
  private olderCounter: Int32Array;
  private newerCounter: Int32Array;
  private logs: (Log | undefined)[];
  /** Least and most recently used keys. */
  oldest: RecencyNode<Log> | null = null;
  newest: RecencyNode<Log> | null = null;
  /** The next key the sweep inspects, walking from the oldest end; null: start over at the oldest. */
  private sweepCursor: RecencyNode<Log> | null = null;
  /** Freed counter rows (linked through `newerCounter`) and freed log slots. */
  private freeCounter = NO_ROW;
  private readonly freeSlots: number[] = [];
  /** Rows or slots ever handed out (the rest of the columns is unused). */
  private usedCounters = 0;
  private usedSlots = 0;

  constructor(private readonly maxRows: number) {
    const rows = Math.min(INITIAL_ROWS, maxRows);
    this.kind = new Uint8Array(rows);
    this.a = new Float64Array(rows);
    this.b = new Float64Array(rows);
    this.c = new Float64Array(rows);
    this.counterKey = new Array<string | undefined>(rows);
    this.olderCounter = new Int32Array(rows);
    this.newerCounter = new Int32Array(rows);
    this.logs = new Array<Log | undefined>(rows);
  }

  /** A row for a new counter key, linked at the newest end, its columns zero (a fresh key). */
  addCounter(kind: CounterRowKind, key: string): number {
    let row = this.freeCounter;
    if (row !== NO_ROW) this.freeCounter = this.newerCounter[row];
    else {
      if (this.usedCounters === this.kind.length) this.growCounters();
      row = this.usedCounters++;
    }
    this.counterKey[row] = key;
    this.restartCounter(row, kind);
    this.link(row);
    return row;
  }

  /** Links a new sliding log's entry at the newest end. */
  addLog(entry: Log): void {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.usedSlots === this.logs.length) this.logs = grownArray(this.logs, this.grownSize(this.logs.length), this.usedSlots);
      slot = this.usedSlots++;
    }
    this.logs[slot] = entry;
    entry.slot = slot;
    this.link(entry);
  }

  /** Zeroes a counter row and gives it to `kind` (a key checked with another algorithm starts afresh). */
  restartCounter(row: number, kind: CounterRowKind): void {
    this.kind[row] = kind;
    this.a[row] = 0;
    this.b[row] = 0;
    this.c[row] = 0;
  }

  /** Unlinks a key and keeps its row or slot for the next one. */
  release(node: RecencyNode<Log>): void {
    this.unlink(node);
    if (typeof node === 'number') {
      this.kind[node] = 0;
      this.counterKey[node] = undefined;
      this.newerCounter[node] = this.freeCounter;
      this.freeCounter = node;
    } else {
      this.logs[node.slot] = undefined;
      this.freeSlots.push(node.slot);
    }
  }

  /** Marks a key most recently used. */
  touch(node: RecencyNode<Log>): void {
    if (node === this.newest) return;
    this.unlink(node);
    this.link(node);
  }

  /** The key the sweep inspects now (the list must not be empty); the cursor moves on past it. */
  nextToSweep(): RecencyNode<Log> {
    const node = this.sweepCursor ?? this.oldest!;
    this.sweepCursor = this.newerOf(node);
    return node;
  }

  /** Whether the sweep just inspected the newest key (its next call starts over at the oldest). */
  get sweepPassEnded(): boolean {
    return this.sweepCursor === null;
  }

  keyOf(node: RecencyNode<Log>): string {
    return typeof node === 'number' ? this.counterKey[node]! : node.key;
  }

  private olderOf(node: RecencyNode<Log>): RecencyNode<Log> | null {
    return typeof node === 'number' ? this.fromLink(this.olderCounter[node]) : node.older as RecencyNode<Log> | null;
  }

  private newerOf(node: RecencyNode<Log>): RecencyNode<Log> | null {
    return typeof node === 'number' ? this.fromLink(this.newerCounter[node]) : node.newer as RecencyNode<Log> | null;
  }

  private setOlder(node: RecencyNode<Log>, older: RecencyNode<Log> | null): void {
    if (typeof node === 'number') this.olderCounter[node] = toLink(older);
    else node.older = older;
  }

  private setNewer(node: RecencyNode<Log>, newer: RecencyNode<Log> | null): void {
    if (typeof node === 'number') this.newerCounter[node] = toLink(newer);
    else node.newer = newer;
  }

  private fromLink(link: number): RecencyNode<Log> | null {
    if (link === NO_ROW) return null;
    return link >= 0 ? link : this.logs[~link]!;
  }

  /** Appends at the newest end. */
  private link(node: RecencyNode<Log>): void {
    this.setOlder(node, this.newest);
    this.setNewer(node, null);
    if (this.newest === null) this.oldest = node;
    else this.setNewer(this.newest, node);
    this.newest = node;
  }

  /** Takes the key out of the list, moving the sweep past it first. */
  private unlink(node: RecencyNode<Log>): void {
    const older = this.olderOf(node);
    const newer = this.newerOf(node);
    if (this.sweepCursor === node) this.sweepCursor = newer;
    if (older === null) this.oldest = newer;
    else this.setNewer(older, newer);
    if (newer === null) this.newest = older;
    else this.setOlder(newer, older);
  }

  /** Doubles the counter columns (up to maxRows), copying them. */
  private growCounters(): void {
    const rows = this.grownSize(this.kind.length);
    this.kind = grown(this.kind, new Uint8Array(rows));
    this.a = grown(this.a, new Float64Array(rows));
    this.b = grown(this.b, new Float64Array(rows));
    this.c = grown(this.c, new Float64Array(rows));
    this.counterKey = grownArray(this.counterKey, rows, this.usedCounters);
    this.olderCounter = grown(this.olderCounter, new Int32Array(rows));
    this.newerCounter = grown(this.newerCounter, new Int32Array(rows));
  }

  /** The store evicts before it adds, so a table never needs more rows than the store holds keys. */
  private grownSize(rows: number): number {
    const size = Math.min(this.maxRows, rows * 2);
    if (size <= rows) throw new Error(`KeyRows: a table of ${rows} rows is full (the store holds at most ${this.maxRows} keys)`);
    return size;
  }
}

/** A neighbour as a counter row's link stores it. */
function toLink(node: RecencyNode<LinkedLog> | null): number {
  if (node === null) return NO_ROW;
  return typeof node === 'number' ? node : ~node.slot;
}

function grown<T extends Int32Array | Uint8Array | Float64Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}

/** A plain array of exactly `rows` slots (a push would grow it by half and keep the slack). */
function grownArray<T>(from: readonly (T | undefined)[], rows: number, used: number): (T | undefined)[] {
  const to = new Array<T | undefined>(rows);
  for (let row = 0; row < used; row++) to[row] = from[row];
  return to;
}
