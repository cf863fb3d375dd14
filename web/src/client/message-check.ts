/**
 * The service's checks of a message, made before it is sent: a message the service would
 * refuse is refused at once, with the code the service would answer, instead of going
 * out and failing (or, over `max_frame_bytes`, closing the socket with 1009 on every
 * retry). The limits are the service's (`GET /v1/limits`).
 */

import type { FrameErrorCode } from './frames';

/** Why a message cannot be sent: an error frame's code, or the close a frame too large would cause. */
export type RefusalCode = Extract<FrameErrorCode, 'empty_message' | 'message_too_long' | 'invalid_request'> | 'frame_too_large';

export class MessageRefused extends Error {
  override readonly name = 'MessageRefused';

  constructor(
    readonly code: RefusalCode,
    message: string,
    /** The limit it went over (characters or bytes), for the two size codes. */
    readonly limit?: number,
  ) {
    super(message);
  }
}

export interface MessageLimits {
  /** `max_message_chars`: Unicode scalar values, as the service counts (Rust's `chars()`). */
  maxMessageChars: number;
  /** `max_frame_bytes`: the whole frame's UTF-8 bytes. */
  maxFrameBytes: number;
}

const utf8 = new TextEncoder();

/** Throws MessageRefused when the service would refuse `message`, sent as the frame `frame`. */
export function checkMessage(message: string, frame: string, limits: MessageLimits): void {
  // PostgreSQL's text cannot hold U+0000, so the service refuses it as invalid_request.
  if (message.includes('\0')) throw new MessageRefused('invalid_request', 'a message cannot contain U+0000');
  if (message.trim() === '') throw new MessageRefused('empty_message', 'a message cannot be empty');
  // A string iterates by code points: the scalar values the service counts.
  let chars = 0;
  for (const _ of message) if (++chars > limits.maxMessageChars) break;
  if (chars > limits.maxMessageChars) {
    throw new MessageRefused('message_too_long', `a message is at most ${limits.maxMessageChars} characters`, limits.maxMessageChars);
  }
  if (utf8.encode(frame).length > limits.maxFrameBytes) {
    throw new MessageRefused('frame_too_large', `a frame is at most ${limits.maxFrameBytes} bytes`, limits.maxFrameBytes);
  }
}
