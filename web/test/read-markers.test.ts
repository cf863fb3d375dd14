import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReadMarkers, TypingThrottle } from '../src/client';

function setup(intervalMs = 500) {
  const written: [string, number][] = [];
  let open = true;
  const markers = new ReadMarkers({
    intervalMs,
    write: (room, id) => {
      if (!open) return false;
      written.push([room, id]);
      return true;
    },
  });
  return { markers, written, setOpen: (v: boolean) => (open = v) };
}

describe('ReadMarkers', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it('sends the first mark at once, then at most one per interval carrying the highest id', () => {
    const { markers, written } = setup();
    markers.mark('r', 10);
    expect(written).toEqual([['r', 10]]);
    markers.mark('r', 11);
    markers.mark('r', 13);
    markers.mark('r', 12); // lower than what waits: no change
    vi.advanceTimersByTime(499);
    expect(written).toEqual([['r', 10]]);
    vi.advanceTimersByTime(1);
    expect(written).toEqual([['r', 10], ['r', 13]]);
    vi.advanceTimersByTime(5_000);
    expect(written).toHaveLength(2);
  });

  it('never moves backwards: an id at or below one sent is dropped', () => {
    const { markers, written } = setup();
    markers.mark('r', 20);
    vi.advanceTimersByTime(1_000);
    markers.mark('r', 20);
    markers.mark('r', 5);
    vi.advanceTimersByTime(1_000);
    expect(written).toEqual([['r', 20]]);
    expect(markers.highest('r')).toBe(20);
  });

  it('counts each room on its own', () => {
    const { markers, written } = setup();
    markers.mark('a', 1);
    markers.mark('b', 7);
    markers.mark('a', 2);
    expect(written).toEqual([['a', 1], ['b', 7]]);
    vi.advanceTimersByTime(500);
    expect(written).toEqual([['a', 1], ['b', 7], ['a', 2]]);
  });

  it('skips what the service already has (read_id of the room list, or the user\'s other tab)', () => {
    const { markers, written } = setup();
    markers.known('r', 30);
    markers.mark('r', 30);
    markers.mark('r', 29);
    expect(written).toEqual([]);
    markers.mark('r', 31);
    expect(written).toEqual([['r', 31]]);
    markers.mark('r', 35); // waits for the interval...
    markers.known('r', 40); // ...and another tab read further meanwhile
    vi.advanceTimersByTime(1_000);
    expect(written).toEqual([['r', 31]]);
    expect(markers.highest('r')).toBe(40);
  });

  it('keeps a mark that cannot go out (not joined) until the room is joined again', () => {
    const { markers, written, setOpen } = setup();
    setOpen(false);
    markers.mark('r', 3);
    markers.mark('r', 4);
    vi.advanceTimersByTime(2_000);
    expect(written).toEqual([]);
    setOpen(true);
    markers.resume('r');
    expect(written).toEqual([['r', 4]]);
    markers.resume('r'); // nothing waits
    expect(written).toEqual([['r', 4]]);
  });

  it('flushAll writes what waits at once (the page is going away)', () => {
    const { markers, written } = setup();
    markers.mark('r', 1);
    markers.mark('r', 2);
    markers.flushAll();
    expect(written).toEqual([['r', 1], ['r', 2]]);
    vi.advanceTimersByTime(1_000);
    expect(written).toHaveLength(2);
  });

  it('forget drops the room and its timer', () => {
    const { markers, written } = setup();
    markers.mark('r', 1);
    markers.mark('r', 2);
    markers.forget('r');
    vi.advanceTimersByTime(1_000);
    expect(written).toEqual([['r', 1]]);
    expect(markers.highest('r')).toBeUndefined();
    markers.mark('r', 1); // a fresh start after rejoining
    expect(written).toEqual([['r', 1], ['r', 1]]);
  });
});

describe('TypingThrottle', () => {
  it('lets at most one frame through per interval', () => {
    let now = 0;
    const t = new TypingThrottle(1000, () => now);
    expect(t.take()).toBe(true);
    now = 300;
    expect(t.take()).toBe(false);
    now = 999;
    expect(t.take()).toBe(false);
    now = 1000;
    expect(t.take()).toBe(true);
    now = 1500;
    expect(t.take()).toBe(false);
    t.reset();
    expect(t.take()).toBe(true);
  });
});
