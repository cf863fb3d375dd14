/** WebSocket frames of the chat service: JSON text, typed both ways. */

import type { ChatMessage } from './types';

/** Codes of the server's `error` frame. The socket stays open after one. */
export type FrameErrorCode =
  | 'invalid_json'
  | 'invalid_request'
  | 'not_joined'
  | 'invalid_room'
  | 'forbidden'
  | 'message_too_long'
  | 'empty_message'
  | 'rate_limited'
  | 'unavailable'
  | (string & {});

export type MessageFrame = { type: 'message' } & ChatMessage;
export interface JoinedFrame { type: 'joined'; room: string }
export interface LeftFrame { type: 'left'; room: string }
export interface PongFrame { type: 'pong' }
export interface ErrorFrame { type: 'error'; code: FrameErrorCode; message: string }
/** A member's read marker moved (read receipts); also sent to the user's own other sockets. */
export interface ReadFrame { type: 'read'; room: string; user_id: string; id: number }
/** Someone is typing in the room (never sent back to the typing socket); show it for about 5 s. */
export interface TypingFrame { type: 'typing'; room: string; user_id: string; user: string }
/** The user became a member of a room without joining it (a first direct message): it may be joined now. */
export interface MemberFrame { type: 'member'; room: string }
/** A user's first socket joined the room (`online`), or its last one left (`!online`), across replicas. */
export interface PresenceFrame { type: 'presence'; room: string; user_id: string; user: string; online: boolean }

export type ServerFrame =
  | MessageFrame
  | JoinedFrame
  | LeftFrame
  | PongFrame
  | ErrorFrame
  | ReadFrame
  | TypingFrame
  | MemberFrame
  | PresenceFrame;

export type ClientFrame =
  | { type: 'message'; room: string; message: string; client_id?: string }
  | { type: 'join'; room: string; since?: number }
  /** `forget`: also end the user's membership (a plain leave only stops this socket's delivery). */
  | { type: 'leave'; room: string; forget?: boolean }
  /** Read up to `id`; the service keeps the larger of this and the stored marker. */
  | { type: 'read'; room: string; id: number }
  | { type: 'typing'; room: string }
  | { type: 'ping' };

export class FrameParseError extends Error {
  override readonly name = 'FrameParseError';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
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
  return { id, room, user, user_id, message, timestamp, client_id: client_id ?? null };
}

const roomOf = (v: Record<string, unknown>): string => {
  if (!isString(v.room)) throw new FrameParseError(`${String(v.type)} frame needs a room`);
  return v.room;
};

const userOf = (v: Record<string, unknown>): { user_id: string; user: string } => {
  if (!isString(v.user_id) || !isString(v.user)) throw new FrameParseError(`${String(v.type)} frame needs user_id and user`);
  return { user_id: v.user_id, user: v.user };
};

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
  switch (v.type) {
    case 'message':
      return { type: 'message', ...parseMessage(v) };
    case 'joined':
    case 'left':
      return { type: v.type, room: roomOf(v) };
    case 'pong':
      return { type: 'pong' };
    case 'error':
      if (!isString(v.code)) throw new FrameParseError('error frame needs a code');
      return { type: 'error', code: v.code, message: isString(v.message) ? v.message : v.code };
    case 'read': {
      const room = roomOf(v);
      if (!isString(v.user_id) || !isId(v.id)) throw new FrameParseError('read frame needs user_id and a non-negative integer id');
      return { type: 'read', room, user_id: v.user_id, id: v.id };
    }
    case 'typing':
      return { type: 'typing', room: roomOf(v), ...userOf(v) };
    case 'member':
      return { type: 'member', room: roomOf(v) };
    case 'presence': {
      const room = roomOf(v);
      const who = userOf(v);
      if (typeof v.online !== 'boolean') throw new FrameParseError('presence frame needs a boolean online');
      return { type: 'presence', room, ...who, online: v.online };
    }
    default:
      return undefined;
  }
}

export function encodeClientFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}
