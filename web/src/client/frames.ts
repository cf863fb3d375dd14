/**
 * WebSocket frames of the chat service: JSON text, typed both ways. The types are the
 * ones generated from docs/api/chat.frames.schema.json (generated/frames.ts); the checks
 * of incoming frames are written here, one per frame type, each returning its generated
 * type, so a frame type or field added, removed or retyped in the schema breaks the build
 * until the check follows.
 */

import { errorCodeValues, type components } from './generated/frames';
import type { ChatMessage } from './types';

type Schemas = components['schemas'];
type GeneratedServerFrame = Schemas['ServerFrame'];
type GeneratedErrorFrame = Extract<GeneratedServerFrame, { type: 'error' }>;

/** Codes of the server's `error` frame, as the schema lists them. The socket stays open after one. */
export type FrameErrorCode = Schemas['ErrorCode'];

const FRAME_ERROR_CODES: ReadonlySet<string> = new Set(errorCodeValues);

/** Whether `code` is one the schema lists (an error frame may carry a newer one). */
export function isKnownFrameErrorCode(code: string): code is FrameErrorCode {
  return FRAME_ERROR_CODES.has(code);
}

/**
 * A refused frame. `code` is one of FrameErrorCode, or one a newer service added: kept
 * (its `message` says what happened) rather than dropped, so a send it refused still fails.
 */
export type ErrorFrame = Omit<GeneratedErrorFrame, 'code'> & { code: FrameErrorCode | (string & {}) };

/** A frame from the server. */
export type ServerFrame = Exclude<GeneratedServerFrame, { type: 'error' }> | ErrorFrame;
export type ServerFrameType = ServerFrame['type'];
/** The frame of one `type`, e.g. `FrameOf<'joined'>`. */
export type FrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;

export type MessageFrame = FrameOf<'message'>;
export type JoinedFrame = FrameOf<'joined'>;
export type LeftFrame = FrameOf<'left'>;
export type PongFrame = FrameOf<'pong'>;
/** A member's read marker moved (read receipts); also sent to the user's own other sockets. */
export type ReadFrame = FrameOf<'read'>;
/** Someone is typing in the room (never sent back to the typing socket); show it for about 5 s. */
export type TypingFrame = FrameOf<'typing'>;
/** The user became a member of a room without joining it (a first direct message): it may be joined now. */
export type MemberFrame = FrameOf<'member'>;
/** A user's first socket joined the room (`online`), or its last one left (`!online`), across replicas. */
export type PresenceFrame = FrameOf<'presence'>;

/**
 * A frame this client sends: the typed forms (`message`, `join`, `leave` with `forget`,
 * `read`, `typing`, `ping`). The schema's `Seed` (`{"message": …}` with no `type`) is the
 * original Django client's form; this client never needs it.
 */
export type ClientFrame = Schemas['Typed'];

export class FrameParseError extends Error {
  override readonly name = 'FrameParseError';
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Checks one stored message (a socket frame's body or a history item). */
export function parseMessage(v: unknown): ChatMessage {
  if (!isObject(v)) throw new FrameParseError('a message must be an object');
  const { id, room, user, user_id, message, timestamp, client_id } = v;
  if (!isId(id)) throw new FrameParseError('message.id must be a non-negative integer');
  if (!isString(room) || !isString(user) || !isString(user_id) || !isString(message) || !isString(timestamp)) {
    throw new FrameParseError('message needs string room, user, user_id, message and timestamp');
  }
  if (client_id !== undefined && client_id !== null && !isString(client_id)) {
    throw new FrameParseError('message.client_id must be a string or null');
  }
  // The schema requires client_id (null when none was given); an older service left it out.
  return { id, room, user, user_id, message, timestamp, client_id: client_id ?? null };
}

const roomOf = (v: Obj): string => {
  if (!isString(v.room)) throw new FrameParseError(`${String(v.type)} frame needs a room`);
  return v.room;
};

const userOf = (v: Obj): { user_id: string; user: string } => {
  if (!isString(v.user_id) || !isString(v.user)) throw new FrameParseError(`${String(v.type)} frame needs user_id and user`);
  return { user_id: v.user_id, user: v.user };
};

/** One check per frame type the schema lists: the mapped type makes the list complete. */
const parsers: { [T in ServerFrameType]: (v: Obj) => FrameOf<T> } = {
  message: (v) => ({ type: 'message', ...parseMessage(v) }),
  joined: (v) => ({ type: 'joined', room: roomOf(v) }),
  left: (v) => ({ type: 'left', room: roomOf(v) }),
  pong: () => ({ type: 'pong' }),
  error: (v) => {
    if (!isString(v.code) || v.code === '') throw new FrameParseError('error frame needs a code');
    return { type: 'error', code: v.code, message: isString(v.message) ? v.message : v.code };
  },
  read: (v) => {
    const room = roomOf(v);
    if (!isString(v.user_id) || !isId(v.id)) throw new FrameParseError('read frame needs user_id and a non-negative integer id');
    return { type: 'read', room, user_id: v.user_id, id: v.id };
  },
  typing: (v) => ({ type: 'typing', room: roomOf(v), ...userOf(v) }),
  member: (v) => ({ type: 'member', room: roomOf(v) }),
  presence: (v) => {
    const room = roomOf(v);
    const who = userOf(v);
    if (typeof v.online !== 'boolean') throw new FrameParseError('presence frame needs a boolean online');
    return { type: 'presence', room, ...who, online: v.online };
  },
};

const isKnownType = (type: string): type is ServerFrameType => Object.hasOwn(parsers, type);

/**
 * Parses one text frame from the server. Returns undefined for a frame type this client
 * does not know (the contract may add more: they are ignored); throws FrameParseError for
 * anything that is not JSON, or a known frame with missing or mistyped fields.
 */
export function parseServerFrame(text: string): ServerFrame | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new FrameParseError('frame is not JSON');
  }
  if (!isObject(v) || !isString(v.type)) throw new FrameParseError('frame must be an object with a string "type"');
  return isKnownType(v.type) ? parsers[v.type](v) : undefined;
}

export function encodeClientFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}
