/**
 * Room names: a public room (`[a-z0-9][a-z0-9_-]{0,63}`), or `dm.<uuid>.<uuid>` with the
 * lower id first. The pattern is the frames schema's `RoomName` (generated/patterns.ts);
 * the order of a direct room's ids, which no pattern can say, is checked here.
 */

import { patterns } from './generated/patterns';

const ROOM_NAME = new RegExp(patterns.RoomName);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A public room: the pattern's names without a dot (only direct rooms have dots). */
const isPublicRoom = (room: string): boolean => ROOM_NAME.test(room) && !room.includes('.');

export const LOBBY = 'lobby';

export function isUuid(s: string): boolean {
  return UUID.test(s.trim().toLowerCase());
}

export function isDirectRoom(room: string): boolean {
  const parts = room.split('.');
  return parts.length === 3 && parts[0] === 'dm' && UUID.test(parts[1]!) && UUID.test(parts[2]!) && parts[1]! < parts[2]!;
}

export function isValidRoom(room: string): boolean {
  return isPublicRoom(room) || (ROOM_NAME.test(room) && isDirectRoom(room));
}

/**
 * Turns what a person typed into a room name when that is unambiguous: trims, lower-cases,
 * and turns inner spaces into `-`. Returns undefined when the result is still not valid.
 */
export function normalizeRoomInput(input: string): string | undefined {
  const room = input.trim().toLowerCase().replace(/^#/, '').replace(/\s+/g, '-');
  return isPublicRoom(room) ? room : undefined;
}

/** The direct room of two users: `dm.<lower uuid>.<higher uuid>`. Throws on a bad id or the same id twice. */
export function directRoom(a: string, b: string): string {
  const x = a.trim().toLowerCase();
  const y = b.trim().toLowerCase();
  if (!UUID.test(x) || !UUID.test(y)) throw new RangeError('a user id is a UUID like 0b6f…-…');
  if (x === y) throw new RangeError('a direct room needs two different users');
  // Canonical lower-case hex compares like the 128-bit numbers it spells.
  return x < y ? `dm.${x}.${y}` : `dm.${y}.${x}`;
}

/** The other member of a direct room, seen from `me`; undefined for other rooms. */
export function directPeer(room: string, me: string): string | undefined {
  if (!isDirectRoom(room)) return undefined;
  const [, a, b] = room.split('.');
  const self = me.toLowerCase();
  if (a === self) return b;
  if (b === self) return a;
  return undefined;
}
