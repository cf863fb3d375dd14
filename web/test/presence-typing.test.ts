import { describe, expect, it } from 'vitest';
import { PresenceBook } from '../src/app/presence-book';
import { TypingBook, typingText } from '../src/app/typing-book';

const on = (user_id: string, user: string, online = true) => ({ type: 'presence' as const, room: 'r', user_id, user, online });

describe('PresenceBook', () => {
  it('starts from the fetched list and follows events', () => {
    const p = new PresenceBook();
    const t = p.begin('r');
    p.settle('r', t, [{ user_id: 'b', user: 'Bob' }, { user_id: 'a', user: 'Ann' }]);
    expect(p.users('r').map((u) => u.user)).toEqual(['Ann', 'Bob']);
    p.event(on('c', 'Cy'));
    p.event(on('b', 'Bob', false));
    expect(p.users('r').map((u) => u.user)).toEqual(['Ann', 'Cy']);
  });

  it('applies events that arrived during the fetch on top of its answer', () => {
    const p = new PresenceBook();
    const t = p.begin('r');
    p.event(on('b', 'Bob', false)); // left after the snapshot was taken
    p.event(on('c', 'Cy'));
    p.settle('r', t, [{ user_id: 'a', user: 'Ann' }, { user_id: 'b', user: 'Bob' }]);
    expect(p.users('r').map((u) => u.user)).toEqual(['Ann', 'Cy']);
  });

  it('ignores a stale answer when a newer fetch started', () => {
    const p = new PresenceBook();
    const first = p.begin('r');
    const second = p.begin('r');
    expect(p.settle('r', first, [{ user_id: 'x', user: 'Old' }])).toBe(false);
    expect(p.settle('r', second, [{ user_id: 'a', user: 'Ann' }])).toBe(true);
    expect(p.users('r').map((u) => u.user)).toEqual(['Ann']);
    p.abandon('r', second); // already settled: no effect
    expect(p.users('r')).toHaveLength(1);
  });
});

describe('TypingBook', () => {
  const typing = (user_id: string, user: string, room = 'r') => ({ type: 'typing' as const, room, user_id, user });

  it('shows a typer for 5 s, never the user, and ends early on their message', () => {
    let now = 0;
    const book = new TypingBook('me', 5_000, () => now);
    expect(book.typing(typing('me', 'Me'))).toBe(false);
    expect(book.typing(typing('b', 'Bob'))).toBe(true);
    expect(book.typing(typing('b', 'Bob'))).toBe(false); // already shown, kept longer
    now = 1_000;
    book.typing(typing('c', 'Cy'));
    expect(book.names('r')).toEqual(['Bob', 'Cy']);
    expect(book.nextExpiry('r')).toBe(5_000);
    now = 5_000;
    expect(book.names('r')).toEqual(['Cy']);
    expect(book.stopped('r', 'c')).toBe(true);
    expect(book.names('r')).toEqual([]);
    expect(book.names('elsewhere')).toEqual([]);
  });

  it('says it in words', () => {
    expect(typingText([])).toBe('');
    expect(typingText(['Ann'])).toBe('Ann is typing…');
    expect(typingText(['Ann', 'Bob'])).toBe('Ann and Bob are typing…');
    expect(typingText(['Ann', 'Bob', 'Cy'])).toBe('Ann, Bob and Cy are typing…');
    expect(typingText(['Ann', 'Bob', 'Cy', 'Di'])).toBe('Ann, Bob and 2 others are typing…');
  });
});
