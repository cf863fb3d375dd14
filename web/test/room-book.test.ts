import { describe, expect, it } from 'vitest';
import type { RoomSummary } from '../src/client';
import { RoomBook, unreadLabel } from '../src/app/room-book';
import { msg } from './helpers';

const ME = '00000000-0000-4000-8000-00000000000a';
const OTHER = '00000000-0000-4000-8000-000000000001'; // the sender of helpers' msg()

function summary(room: string, last_id: number, read_id: number, unread: number, at?: string): RoomSummary {
  return {
    room,
    last_id,
    read_id,
    unread,
    last_message: at ? { ...msg(room, last_id, { timestamp: at }), client_id: null } : null,
  };
}

const keepNone = () => false;

describe('RoomBook', () => {
  it('takes the service list: counts and the newest-first order, empty rooms last', () => {
    const book = new RoomBook(ME);
    const { added } = book.applyServer(
      [summary('b', 9, 4, 5, '2025-01-02T10:00:00Z'), summary('a', 3, 3, 0, '2025-01-01T10:00:00Z'), summary('empty', 0, 0, 0)],
      keepNone,
    );
    expect(added).toEqual(['b', 'a', 'empty']);
    expect(book.names()).toEqual(['b', 'a', 'empty']);
    expect(book.unread('b')).toBe(5);
    expect(book.totalUnread()).toBe(5);
  });

  it('counts live messages from others after the marker, not the user\'s own nor the ones being looked at', () => {
    const book = new RoomBook(ME);
    book.applyServer([summary('r', 10, 10, 0, '2025-01-01T00:00:00Z')], keepNone);
    expect(book.message(msg('r', 11), false)).toBe(true);
    expect(book.message(msg('r', 12, { user_id: ME }), false)).toBe(false);
    expect(book.message(msg('r', 13), true)).toBe(false);
    expect(book.unread('r')).toBe(1);
    expect(book.get('r')!.lastId).toBe(13);
  });

  it('moves a room with a new message to the top', () => {
    const book = new RoomBook(ME);
    book.applyServer([summary('a', 5, 5, 0, '2025-01-02T00:00:00Z'), summary('b', 5, 5, 0, '2025-01-01T00:00:00Z')], keepNone);
    book.message(msg('b', 6, { timestamp: '2025-01-03T00:00:00Z' }), false);
    expect(book.names()).toEqual(['b', 'a']);
  });

  it('clears the count when read up to the newest id; an exact count when the caller has one', () => {
    const book = new RoomBook(ME);
    book.applyServer([summary('r', 20, 10, 7)], keepNone);
    expect(book.read('r', 15)).toBe(false); // older than the newest: unknown, kept
    expect(book.unread('r')).toBe(7);
    expect(book.read('r', 18, 2)).toBe(true);
    expect(book.unread('r')).toBe(2);
    expect(book.read('r', 20)).toBe(true);
    expect(book.unread('r')).toBe(0);
    expect(book.read('r', 12)).toBe(false); // never backwards
    expect(book.get('r')!.readId).toBe(20);
  });

  it('a later service list does not undo a read it has not stored yet, nor count twice', () => {
    const book = new RoomBook(ME);
    book.applyServer([summary('r', 10, 5, 5)], keepNone);
    book.read('r', 10); // sent, not yet stored
    book.message(msg('r', 11), false); // live
    book.applyServer([summary('r', 11, 5, 6)], keepNone); // the service's view lags our read
    expect(book.unread('r')).toBe(1);
    book.applyServer([summary('r', 12, 10, 2)], keepNone); // now it knows more than we do
    expect(book.unread('r')).toBe(2);
    expect(book.get('r')!.lastId).toBe(12);
  });

  it('a room joined live before the snapshot keeps the snapshot\'s count plus what came after it', () => {
    const book = new RoomBook(ME);
    book.add('lobby'); // the socket URL joins it at once
    book.message(msg('lobby', 11), false);
    book.message(msg('lobby', 11), false); // a replay of the same id counts once
    book.applyServer([summary('lobby', 10, 3, 4)], keepNone); // taken before 11 was stored
    expect(book.unread('lobby')).toBe(5);
    book.applyServer([summary('lobby', 11, 3, 5)], keepNone); // taken after
    expect(book.unread('lobby')).toBe(5);
  });

  it('drops rooms the service no longer lists, unless kept; rooms added here go after listed ones', () => {
    const book = new RoomBook(ME);
    book.add('mine');
    book.add('gone');
    const { removed } = book.applyServer([summary('listed', 0, 0, 0)], (name) => name === 'mine');
    expect(removed).toEqual(['gone']);
    expect(book.names()).toEqual(['listed', 'mine']);
  });

  it('ignores messages of rooms it does not have', () => {
    const book = new RoomBook(ME);
    expect(book.message(msg('nowhere', 1), false)).toBe(false);
    expect(book.totalUnread()).toBe(0);
  });

  it('labels counts past the service\'s exact range', () => {
    expect(unreadLabel(7)).toBe('7');
    expect(unreadLabel(999)).toBe('999');
    expect(unreadLabel(1000)).toBe('999+');
  });
});
