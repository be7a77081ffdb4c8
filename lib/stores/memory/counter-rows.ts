import type { CounterAlgorithm, CounterState } from '../../core/algorithms/counter-check.js';
import { type CounterRowKind, ROW_FIXED_WINDOW, ROW_GCRA, ROW_SLIDING_WINDOW } from './key-rows.js';

/** The row kind of each counter algorithm. */
export const ROW_KIND: Readonly<Record<CounterAlgorithm, CounterRowKind>> = {
  'fixed-window': ROW_FIXED_WINDOW,
  'sliding-window': ROW_SLIDING_WINDOW,
  gcra: ROW_GCRA,
};

/** The columns of a counter row (KeyRows' a, b and c). */
export interface CounterColumns {
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly c: Float64Array;
}

/**
 * A counter key's state in its row, per algorithm (times in integer ms, exact in a double):
 *   fixed-window:   a = windowStart + period (its end), b = used
 *   sliding-window: a = windowStart + 2 x period,       b = current, c = previous
 *   gcra:           a = TAT (whole ms),                 b = the TAT's fraction
 * so that `a` is the time after which the key reads as fresh (its windows are past, its TAT too):
 * the sweep reads that one number, and no expiry is stored. Decoding needs the period, which every
 * check and record carries. A row of zeros decodes to counts of 0: a fresh key.
 */
export function loadCounter(columns: CounterColumns, row: number, kind: CounterRowKind, periodMs: number, state: CounterState): void {
  const a = columns.a[row];
  if (kind === ROW_FIXED_WINDOW) {
    state.windowStart = a - periodMs;
    state.used = columns.b[row];
  } else if (kind === ROW_SLIDING_WINDOW) {
    state.windowStart = a - 2 * periodMs;
    state.current = columns.b[row];
    state.previous = columns.c[row];
  } else {
    state.tatMs = a;
    state.tatFraction = columns.b[row];
  }
}

/** Writes `state` back into a counter row (see loadCounter). */
export function storeCounter(columns: CounterColumns, row: number, kind: CounterRowKind, periodMs: number, state: CounterState): void {
  if (kind === ROW_FIXED_WINDOW) {
    columns.a[row] = state.windowStart + periodMs;
    columns.b[row] = state.used;
  } else if (kind === ROW_SLIDING_WINDOW) {
    columns.a[row] = state.windowStart + 2 * periodMs;
    columns.b[row] = state.current;
    columns.c[row] = state.previous;
  } else {
    columns.a[row] = state.tatMs;
    columns.b[row] = state.tatFraction;
  }
}

/** Whether the row's counts read 0 at `now` whatever the check (its block aside): it may be forgotten. */
export function counterIdle(columns: CounterColumns, row: number, now: number): boolean {
  return columns.a[row] < now;
}
