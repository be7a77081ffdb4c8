import { describe, expect, test } from '@jest/globals';
import { HitLog } from '../../lib/core/hit-log.js';
import { hitSlidingLog, readSlidingLog, recordSlidingLog } from '../../lib/core/sliding-log.js';

const check = { key: 'k', limit: 2, windowMs: 1000, record: true };

describe('sliding log (DRF allow_request on one hit log)', () => {
  test('allows and records until the limit, then denies without recording', () => {
    const log = new HitLog();
    expect(hitSlidingLog(log, check, 0)).toEqual({ allowed: true, count: 0, oldest: null, now: 0 });
    expect(hitSlidingLog(log, check, 100)).toEqual({ allowed: true, count: 1, oldest: 0, now: 100 });
    expect(hitSlidingLog(log, check, 200)).toEqual({ allowed: false, count: 2, oldest: 0, now: 200 });
    expect(log.toArray()).toEqual([0, 100]);
  });

  test('prunes entries <= now - duration before counting', () => {
    const log = HitLog.from([0, 100]);
    expect(hitSlidingLog(log, check, 1000)).toEqual({ allowed: true, count: 1, oldest: 100, now: 1000 });
    expect(log.toArray()).toEqual([100, 1000]);
  });

  test('record: false allows without writing (Tastypie records from accessed)', () => {
    const log = new HitLog();
    expect(hitSlidingLog(log, { ...check, record: false }, 0).allowed).toBe(true);
    expect(log.size).toBe(0);
  });

  test('a denial by a limit of 0 reports no blocking hit: no hit leaving the window frees a slot', () => {
    const log = HitLog.from([100, 200]);
    const result = hitSlidingLog(log, { ...check, limit: 0 }, 500);
    expect(result).toEqual({ allowed: false, count: 2, oldest: 100, now: 500 });
    expect(result.blockingHit).toBeUndefined();
  });

  test('an allowed check that records keeps the key for a ttl longer than the window (Tastypie)', () => {
    const log = new HitLog();
    hitSlidingLog(log, { ...check, ttlMs: 5000 }, 0);
    expect(log.expiresAt).toBe(5000);
    hitSlidingLog(log, { ...check, ttlMs: 10 }, 100); // a shorter ttl never drops counted hits
    expect(log.expiresAt).toBe(1100);
  });

  test('recordSlidingLog appends and pushes the expiry to the window, or to a longer ttl', () => {
    const log = new HitLog();
    recordSlidingLog(log, 1000, undefined, 50);
    expect(log.expiresAt).toBe(1050);
    recordSlidingLog(log, 1000, 5000, 60);
    expect(log.expiresAt).toBe(5060);
    recordSlidingLog(log, 1000, 10, 70); // a ttl shorter than the window never drops counted hits
    expect(log.expiresAt).toBe(1070);
    expect(log.toArray()).toEqual([50, 60, 70]);
  });

  test('a check forgets hits that left the window even when a longer ttl keeps the key (Tastypie)', () => {
    const log = HitLog.from([0, 500, 1500]);
    const result = hitSlidingLog(log, { ...check, ttlMs: 10_000 }, 2000);
    expect(result).toEqual({ allowed: true, count: 1, oldest: 1500, now: 2000 });
    expect(log.toArray()).toEqual([1500, 2000]);
  });

  test('recordSlidingLog keeps hits past the window until the retention, then forgets them', () => {
    const log = new HitLog();
    recordSlidingLog(log, 1000, 10_000, 0);
    recordSlidingLog(log, 1000, 10_000, 5000);
    expect(log.toArray()).toEqual([0, 5000]);
    recordSlidingLog(log, 1000, 10_000, 10_001);
    expect(log.toArray()).toEqual([5000, 10_001]);
  });

  test('readSlidingLog reports without changing', () => {
    const log = HitLog.from([0, 500, 900]);
    expect(readSlidingLog(log, 1000, 1200)).toEqual({ count: 2, oldest: 500, now: 1200 });
    expect(log.toArray()).toEqual([0, 500, 900]);
    expect(readSlidingLog(new HitLog(), 1000, 0)).toEqual({ count: 0, oldest: null, now: 0 });
  });
});
