import { describe, expect, test } from '@jest/globals';
import { HitLog } from '../../lib/core/hit-log.js';

/** The buffer size is the one thing shrinking changes, and it has no public getter. */
const capacityOf = (log: HitLog): number => (log as unknown as { times: number[] }).times.length;

describe('HitLog', () => {
  test('keeps hits oldest first and reports size, oldest and at()', () => {
    const log = new HitLog();
    for (const time of [10, 20, 30]) log.push(time);
    expect(log.size).toBe(3);
    expect(log.oldest).toBe(10);
    expect([log.at(0), log.at(1), log.at(2)]).toEqual([10, 20, 30]);
    expect(log.toArray()).toEqual([10, 20, 30]);
  });

  test('wraps around the ring when the head has moved and keeps order', () => {
    const log = new HitLog(4);
    for (const time of [1, 2, 3, 4]) log.push(time);
    log.dropUpTo(2); // head moves to index 2
    log.push(5);
    log.push(6); // these two land at indexes 0 and 1
    expect(capacityOf(log)).toBe(4);
    expect(log.toArray()).toEqual([3, 4, 5, 6]);
    expect(log.oldest).toBe(3);
    log.dropUpTo(4);
    expect(log.toArray()).toEqual([5, 6]);
  });

  test('dropUpTo wraps the head back to the start of the buffer', () => {
    const log = new HitLog(2);
    log.push(1);
    log.push(2);
    log.dropUpTo(1); // head on the last slot
    log.push(3); // lands in slot 0
    log.dropUpTo(2); // the head steps off the end: it must come back to slot 0, where 3 is
    expect(log.size).toBe(1);
    expect(log.oldest).toBe(3);
    expect(log.toArray()).toEqual([3]);
    log.dropUpTo(3);
    expect(log.size).toBe(0);
  });

  test('a requested capacity of 0 still makes a working log', () => {
    const log = new HitLog(0);
    log.push(5);
    expect(log.size).toBe(1);
    expect(log.oldest).toBe(5);
  });

  test('grows past its capacity, also from a wrapped state, without losing or reordering hits', () => {
    const log = new HitLog(4);
    for (const time of [1, 2, 3, 4]) log.push(time);
    log.dropUpTo(2);
    for (let time = 5; time <= 40; time++) log.push(time);
    expect(log.size).toBe(38);
    expect(capacityOf(log)).toBeGreaterThanOrEqual(38);
    expect(log.toArray()).toEqual(Array.from({ length: 38 }, (_, i) => i + 3));
  });

  test('holds a million-hit window (a 1,000,000/min limit) with millisecond times, in order', () => {
    const log = new HitLog();
    const start = 1_700_000_000_000.5; // epoch milliseconds, with a fraction as a clock may give
    for (let i = 0; i < 1_000_000; i++) log.push(start + i);
    expect(log.size).toBe(1_000_000);
    expect(capacityOf(log)).toBe(2 ** 20);
    expect(log.oldest).toBe(start);
    expect(log.at(999_999)).toBe(start + 999_999);
    log.dropUpTo(start + 499_999);
    expect(log.size).toBe(500_000);
    expect(log.oldest).toBe(start + 500_000);
    expect(log.countAfter(start + 899_999)).toBe(100_000);
  });

  test('dropUpTo drops at most maxDropped hits, and says when hits at or before the cutoff are left', () => {
    const log = new HitLog();
    for (let time = 1; time <= 10; time++) log.push(time);
    expect(log.dropUpTo(7, 3)).toBe(true);
    expect(log.toArray()).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(log.countAfter(7)).toBe(3);
    expect(log.dropUpTo(7, 3)).toBe(true); // exactly three left to drop: the bound is reached before 8 is looked at
    expect(log.dropUpTo(7, 3)).toBe(false);
    expect(log.toArray()).toEqual([8, 9, 10]);
    expect(log.dropUpTo(8)).toBe(false); // unbounded by default
    expect(log.toArray()).toEqual([9, 10]);
  });

  test('shrinks a large buffer once a burst has drained', () => {
    const log = new HitLog();
    for (let time = 1; time <= 4096; time++) log.push(time);
    expect(capacityOf(log)).toBe(4096);
    log.dropUpTo(4000); // 96 left, fewer than 4096 / 8
    expect(capacityOf(log)).toBe(1024);
    expect(log.toArray()).toEqual(Array.from({ length: 96 }, (_, i) => i + 4001));
  });

  test('does not shrink small buffers', () => {
    const log = new HitLog();
    for (let time = 1; time <= 1024; time++) log.push(time);
    log.dropUpTo(1020);
    expect(capacityOf(log)).toBe(1024);
    expect(log.size).toBe(4);
  });

  test('dropUpTo drops hits at the cutoff too (DRF: <= now - duration)', () => {
    const log = HitLog.from([100, 200, 300]);
    log.dropUpTo(200);
    expect(log.toArray()).toEqual([300]);
    log.dropUpTo(299);
    expect(log.toArray()).toEqual([300]);
    log.dropUpTo(300);
    expect(log.size).toBe(0);
  });

  test('countAfter counts only hits strictly after the cutoff', () => {
    const log = HitLog.from([10, 20, 20, 30, 40]);
    expect(log.countAfter(5)).toBe(5);
    expect(log.countAfter(10)).toBe(4);
    expect(log.countAfter(20)).toBe(2);
    expect(log.countAfter(39)).toBe(1);
    expect(log.countAfter(40)).toBe(0);
    expect(new HitLog().countAfter(0)).toBe(0);
  });

  test('countAfter works on a wrapped ring', () => {
    const log = new HitLog(4);
    for (const time of [1, 2, 3, 4]) log.push(time);
    log.dropUpTo(2);
    log.push(5);
    log.push(6);
    expect(log.countAfter(3)).toBe(3);
    expect(log.countAfter(5)).toBe(1);
  });

  test('a clock that goes backwards is clamped to the newest hit, keeping the log sorted', () => {
    const log = HitLog.from([100, 200]);
    log.push(150);
    expect(log.toArray()).toEqual([100, 200, 200]);
  });

  test('clear forgets every hit', () => {
    const log = HitLog.from([1, 2, 3]);
    log.clear();
    expect(log.size).toBe(0);
    expect(log.toArray()).toEqual([]);
    log.push(7);
    expect(log.toArray()).toEqual([7]);
  });
});
