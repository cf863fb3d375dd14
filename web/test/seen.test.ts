import { describe, expect, it } from 'vitest';
import { SeenTracker } from '../src/client';

describe('SeenTracker', () => {
  it('dedupes by (room, id)', () => {
    const s = new SeenTracker();
    expect(s.add('a', 1)).toBe(true);
    expect(s.add('a', 1)).toBe(false);
    expect(s.add('b', 1)).toBe(true);
    expect(s.has('a', 1)).toBe(true);
    expect(s.has('a', 2)).toBe(false);
  });

  it('tracks the highest id per room as since, also from advance()', () => {
    const s = new SeenTracker();
    expect(s.since('a')).toBeUndefined();
    s.add('a', 5);
    s.add('a', 3);
    expect(s.since('a')).toBe(5);
    s.advance('a', 4);
    expect(s.since('a')).toBe(5);
    s.advance('a', 9);
    expect(s.since('a')).toBe(9);
    s.advance('b', 0);
    expect(s.since('b')).toBe(0);
  });

  it('stays bounded: evicted ids still count as seen', () => {
    const s = new SeenTracker(3);
    for (const id of [1, 2, 3, 4, 5]) s.add('a', id);
    expect(s.has('a', 1)).toBe(true);
    expect(s.add('a', 2)).toBe(false);
    expect(s.add('a', 6)).toBe(true);
  });

  it('forgets a room', () => {
    const s = new SeenTracker();
    s.add('a', 1);
    s.forget('a');
    expect(s.since('a')).toBeUndefined();
    expect(s.add('a', 1)).toBe(true);
  });
});
