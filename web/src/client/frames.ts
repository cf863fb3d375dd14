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

export type ServerFrame = MessageFrame | JoinedFrame | LeftFrame | PongFrame | ErrorFrame;

export type ClientFrame =
  | { type: 'message'; room: string; message: string; client_id?: string }
  | { type: 'join'; room: string; since?: number }
  | { type: 'leave'; room: string }
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

/**
 * Parses one text frame from the server. Throws FrameParseError for anything that is
 * not JSON or not a frame of the contract (an unknown `type` included).
 */
export function parseServerFrame(text: string): ServerFrame {
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
      if (!isString(v.room)) throw new FrameParseError(`${v.type} frame needs a room`);
      return { type: v.type, room: v.room };
    case 'pong':
      return { type: 'pong' };
    case 'error':
      if (!isString(v.code)) throw new FrameParseError('error frame needs a code');
      return { type: 'error', code: v.code, message: isString(v.message) ? v.message : v.code };
    default:
      throw new FrameParseError(`unknown frame type ${JSON.stringify(v.type)}`);
  }
}

export function encodeClientFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}
