/**
 * Who is typing per room: a `typing` frame shows its sender for `showMs` (the contract
 * says about 5 s), a message from them ends it early, and the user's own frames (from
 * their other tabs) are never shown.
 */

import type { TypingFrame } from '../client';

export class TypingBook {
  /** room -> user id -> { name, until (epoch ms) } */
  private readonly rooms = new Map<string, Map<string, { name: string; until: number }>>();

  constructor(
    private readonly me: string,
    private readonly showMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns whether it changed what is shown. */
  typing(f: TypingFrame): boolean {
    if (f.user_id === this.me) return false;
    let room = this.rooms.get(f.room);
    if (!room) {
      room = new Map();
      this.rooms.set(f.room, room);
    }
    const shown = room.has(f.user_id);
    room.set(f.user_id, { name: f.user, until: this.now() + this.showMs });
    return !shown;
  }

  /** Their message arrived: they are done typing it. Returns whether it changed what is shown. */
  stopped(room: string, userId: string): boolean {
    return this.rooms.get(room)?.delete(userId) ?? false;
  }

  /** Names of those typing in the room now, in the order they started. */
  names(room: string): string[] {
    const map = this.rooms.get(room);
    if (!map) return [];
    const now = this.now();
    const names: string[] = [];
    for (const [id, t] of map) {
      if (t.until <= now) map.delete(id);
      else names.push(t.name);
    }
    return names;
  }

  /** When the next shown name expires (epoch ms), to re-render then. */
  nextExpiry(room: string): number | undefined {
    let next: number | undefined;
    for (const t of this.rooms.get(room)?.values() ?? []) if (next === undefined || t.until < next) next = t.until;
    return next;
  }
}

/** "Ann is typing…", "Ann and Bob are typing…", "Ann, Bob and 2 others are typing…", or ''. */
export function typingText(names: string[]): string {
  const [a, b] = names;
  if (a === undefined) return '';
  if (b === undefined) return `${a} is typing…`;
  if (names.length === 2) return `${a} and ${b} are typing…`;
  if (names.length === 3) return `${a}, ${b} and ${names[2]} are typing…`;
  return `${a}, ${b} and ${names.length - 2} others are typing…`;
}
