/**
 * Checks of the chat service's HTTP bodies: what arrives is `unknown` until it has been
 * seen to have the shape chat.openapi.json gives it (types.ts aliases the generated
 * types, and each check returns one, so a changed description breaks the build here).
 * Each throws FrameParseError, which the API client turns into `ApiError('bad_response')`.
 */

import { FrameParseError, parseMessage } from './frames';
import type { ChatMessage, PresentUser, RoomSummary } from './types';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function listOf(body: unknown, field: string): unknown[] {
  if (!isObject(body) || !Array.isArray(body[field])) throw new FrameParseError(`the answer has no "${field}" list`);
  return body[field] as unknown[];
}

/** `GET /v1/rooms/{room}/messages`: the messages, oldest first. */
export function parseHistory(body: unknown): ChatMessage[] {
  return listOf(body, 'messages').map(parseMessage);
}

export function parseRoomSummary(v: unknown): RoomSummary {
  if (!isObject(v) || typeof v.room !== 'string') throw new FrameParseError('a room needs a string "room"');
  const { room, last_id, read_id, unread, last_message } = v;
  if (!isCount(last_id) || !isCount(read_id) || !isCount(unread)) {
    throw new FrameParseError(`room ${room}: last_id, read_id and unread must be non-negative integers`);
  }
  return {
    room,
    last_id,
    read_id,
    unread,
    last_message: last_message === null || last_message === undefined ? null : { type: 'message', ...parseMessage(last_message) },
  };
}

/** `GET /v1/rooms`: the caller's rooms, the one with the newest message first. */
export function parseRooms(body: unknown): RoomSummary[] {
  return listOf(body, 'rooms').map(parseRoomSummary);
}

/** `GET /v1/rooms/{room}/presence`: who has a socket joined to the room. */
export function parsePresence(body: unknown): PresentUser[] {
  return listOf(body, 'users').map((u) => {
    if (!isObject(u) || typeof u.user_id !== 'string' || typeof u.user !== 'string') {
      throw new FrameParseError('a present user needs string user_id and user');
    }
    return { user_id: u.user_id, user: u.user };
  });
}
