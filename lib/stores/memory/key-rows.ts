/** What a counter row holds: its algorithm (0 = a freed row). */
export const ROW_FIXED_WINDOW = 1;
export const ROW_SLIDING_WINDOW = 2;
export const ROW_GCRA = 3;
export type CounterRowKind = typeof ROW_FIXED_WINDOW | typeof ROW_SLIDING_WINDOW | typeof ROW_GCRA;

/** A sliding log's entry, as its row needs it: to name its key when evicted. */
export interface LogOwner {
  readonly key: string;
}

/** No row: the ends of the list, an empty free list. Counter rows are below it, log rows negative. */
export const NO_ROW = 0x7fffffff;
/** Rows allocated at first per table; the columns double from there, up to the most keys the store holds. */
const INITIAL_ROWS = 1024;

/**
 * The memory store's keys as rows of parallel typed arrays ("columns"), linked into one
 * least-recently-used list whatever their algorithm. A row number >= 0 is a counter key's row; a
 * negative one, ~i, is slot i of the sliding logs' table.
 *
 * A counter key (fixed-window, sliding-window, gcra) lives in its row: three numbers in the a/b/c
 * columns, its algorithm, its links and its key. Typed arrays hold the numbers unboxed and without
 * an object: Node's V8 has no pointer compression, so an object per key costs a 24 B header, 8 B a
 * field and a 16 B box per time, twice the issue's 120 B per idle key. A sliding log keeps its entry
 * object (its hits); its slot holds only the links and the entry, so it pays no counter column.
 *
 * The counter columns (lib/stores/memory/counter-rows.ts reads and writes them) make `a` the time
 * the key may be forgotten after, so the sweep reads one number and no expiry is stored.
 */
export class KeyRows<Log extends LogOwner> {
  kind: Uint8Array;
  a: Float64Array;
  b: Float64Array;
  c: Float64Array;
  private counterKey: (string | undefined)[];
  private olderCounter: Int32Array;
  private newerCounter: Int32Array;
  private log: (Log | undefined)[];
  private olderLog: Int32Array;
  private newerLog: Int32Array;
  /** Least and most recently used rows. */
  oldest = NO_ROW;
  newest = NO_ROW;
  /** The next row the sweep inspects, walking from the oldest end; NO_ROW: start over at the oldest. */
  private sweepCursor = NO_ROW;
  /** Freed rows of each table, linked through its `newer` column. */
  private freeCounter = NO_ROW;
  private freeLog = NO_ROW;
  /** Rows ever handed out per table (the rest of its columns is unused). */
  private usedCounters = 0;
  private usedLogs = 0;

  constructor(private readonly maxRows: number) {
    const rows = Math.min(INITIAL_ROWS, maxRows);
    this.kind = new Uint8Array(rows);
    this.a = new Float64Array(rows);
    this.b = new Float64Array(rows);
    this.c = new Float64Array(rows);
    this.counterKey = new Array<string | undefined>(rows);
    this.olderCounter = new Int32Array(rows);
    this.newerCounter = new Int32Array(rows);
    this.log = new Array<Log | undefined>(rows);
    this.olderLog = new Int32Array(rows);
    this.newerLog = new Int32Array(rows);
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

  /** A row for a new sliding log's entry, linked at the newest end. */
  addLog(entry: Log): number {
    let slot = this.freeLog;
    if (slot !== NO_ROW) this.freeLog = this.newerLog[slot];
    else {
      if (this.usedLogs === this.log.length) this.growLogs();
      slot = this.usedLogs++;
    }
    this.log[slot] = entry;
    const row = ~slot;
    this.link(row);
    return row;
  }

  /** Zeroes a counter row and gives it to `kind` (a key checked with another algorithm starts afresh). */
  restartCounter(row: number, kind: CounterRowKind): void {
    this.kind[row] = kind;
    this.a[row] = 0;
    this.b[row] = 0;
    this.c[row] = 0;
  }

  /** Unlinks a row and keeps it for the next key. */
  release(row: number): void {
    this.unlink(row);
    if (row >= 0) {
      this.kind[row] = 0;
      this.counterKey[row] = undefined;
      this.newerCounter[row] = this.freeCounter;
      this.freeCounter = row;
    } else {
      const slot = ~row;
      this.log[slot] = undefined;
      this.newerLog[slot] = this.freeLog;
      this.freeLog = slot;
    }
  }

  /** Marks a row most recently used. */
  touch(row: number): void {
    if (row === this.newest) return;
    this.unlink(row);
    this.link(row);
  }

  /** The row the sweep inspects now (the list must not be empty); the cursor moves on past it. */
  nextToSweep(): number {
    const row = this.sweepCursor === NO_ROW ? this.oldest : this.sweepCursor;
    this.sweepCursor = this.newerOf(row);
    return row;
  }

  /** Whether the sweep just inspected the newest row (its next call starts over at the oldest). */
  get sweepPassEnded(): boolean {
    return this.sweepCursor === NO_ROW;
  }

  keyOf(row: number): string {
    return row >= 0 ? this.counterKey[row]! : this.log[~row]!.key;
  }

  /** A log row's entry. */
  logOf(row: number): Log {
    return this.log[~row]!;
  }

  private olderOf(row: number): number {
    return row >= 0 ? this.olderCounter[row] : this.olderLog[~row];
  }

  private newerOf(row: number): number {
    return row >= 0 ? this.newerCounter[row] : this.newerLog[~row];
  }

  private setOlder(row: number, older: number): void {
    if (row >= 0) this.olderCounter[row] = older;
    else this.olderLog[~row] = older;
  }

  private setNewer(row: number, newer: number): void {
    if (row >= 0) this.newerCounter[row] = newer;
    else this.newerLog[~row] = newer;
  }

  /** Appends at the newest end. */
  private link(row: number): void {
    this.setOlder(row, this.newest);
    this.setNewer(row, NO_ROW);
    if (this.newest === NO_ROW) this.oldest = row;
    else this.setNewer(this.newest, row);
    this.newest = row;
  }

  /** Takes the row out of the list, moving the sweep past it first. */
  private unlink(row: number): void {
    const older = this.olderOf(row);
    const newer = this.newerOf(row);
    if (this.sweepCursor === row) this.sweepCursor = newer;
    if (older === NO_ROW) this.oldest = newer;
    else this.setNewer(older, newer);
    if (newer === NO_ROW) this.newest = older;
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

  private growLogs(): void {
    const rows = this.grownSize(this.log.length);
    this.log = grownArray(this.log, rows, this.usedLogs);
    this.olderLog = grown(this.olderLog, new Int32Array(rows));
    this.newerLog = grown(this.newerLog, new Int32Array(rows));
  }

  /** The store evicts before it adds, so a table never needs more rows than the store holds keys. */
  private grownSize(rows: number): number {
    const size = Math.min(this.maxRows, rows * 2);
    if (size <= rows) throw new Error(`KeyRows: a table of ${rows} rows is full (the store holds at most ${this.maxRows} keys)`);
    return size;
  }
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
