import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/client';

describe('backoffDelay', () => {
  it('grows exponentially within [cap/2, cap]', () => {
    const opts = { baseMs: 500, maxMs: 30_000, factor: 2 };
    for (let attempt = 0; attempt < 8; attempt++) {
      const cap = Math.min(30_000, 500 * 2 ** attempt);
      expect(backoffDelay(attempt, opts, () => 0)).toBe(cap / 2);
      expect(backoffDelay(attempt, opts, () => 1)).toBe(cap);
      const mid = backoffDelay(attempt, opts, () => 0.5);
      expect(mid).toBeGreaterThanOrEqual(cap / 2);
      expect(mid).toBeLessThanOrEqual(cap);
    }
  });

  it('is capped at maxMs, even for huge attempts', () => {
    expect(backoffDelay(10, { maxMs: 30_000 }, () => 1)).toBe(30_000);
    expect(backoffDelay(1e6, { maxMs: 30_000 }, () => 1)).toBe(30_000);
    expect(Number.isFinite(backoffDelay(Number.MAX_SAFE_INTEGER))).toBe(true);
  });

  it('jitters: different random draws give different delays', () => {
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(4)));
    expect(seen.size).toBeGreaterThan(10);
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });

  it('treats negative or fractional attempts sanely and clamps bad random values', () => {
    expect(backoffDelay(-3, {}, () => 0)).toBe(250);
    expect(backoffDelay(1.9, {}, () => 0)).toBe(500);
    expect(backoffDelay(0, {}, () => 7)).toBe(500);
    expect(backoffDelay(0, {}, () => -1)).toBe(250);
  });
});
