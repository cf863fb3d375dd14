/**
 * WebSocket close codes: the server's, as docs/api/chat.frames.schema.json lists them
 * (`$defs/CloseCode`), and what this client does about each. Both tables are checked
 * against the generated type, so a code added to the schema breaks the build until it
 * has a name and an action.
 */

import type { components } from './generated/frames';

/** A code the server closes a socket with. */
export type ServerCloseCode = components['schemas']['CloseCode'];

/**
 * Close codes by name: the server's (the schema's titles in the comments) and the two
 * the client itself meets, 1000 (a close it asked for) and 1006 (the connection was lost,
 * no close frame: a dropped network, or a handshake refused before the upgrade).
 */
export const CloseCode = {
  Normal: 1000,
  /** server_shutting_down: reconnect, with `since`. */
  GoingAway: 1001,
  /** protocol_error: the client broke the WebSocket protocol. */
  ProtocolError: 1002,
  Abnormal: 1006,
  /** invalid_text: a text frame was not UTF-8. */
  InvalidText: 1007,
  /** frame_too_large: a frame was over `max_frame_bytes` (`GET /v1/limits`). */
  TooBig: 1009,
  /** too_far_behind: rejoin with `since` = the last id seen. */
  TryAgainLater: 1013,
  /** token_expired: refresh the token and reconnect. */
  TokenExpired: 4001,
  /** token_revoked: the login ended (logout, or a reused refresh token): sign in again. */
  TokenRevoked: 4003,
} as const;

/** What the socket does after a close. */
export type CloseAction =
  /** Reconnect with backoff and rejoin every room with `since`. */
  | 'reconnect'
  /** Refresh the token pair first, then reconnect at once. */
  | 'refresh'
  /** The login is over: stop, and end the session. */
  | 'sign_out';

const SERVER_CLOSE_ACTIONS: Record<ServerCloseCode, CloseAction> = {
  [CloseCode.GoingAway]: 'reconnect',
  // 1002, 1007 and 1009 mean this client sent something it should not have. Reconnecting
  // (with backoff) keeps the user's rooms; the outbox never sends a frame over the limit.
  [CloseCode.ProtocolError]: 'reconnect',
  [CloseCode.InvalidText]: 'reconnect',
  [CloseCode.TooBig]: 'reconnect',
  [CloseCode.TryAgainLater]: 'reconnect',
  [CloseCode.TokenExpired]: 'refresh',
  [CloseCode.TokenRevoked]: 'sign_out',
};

export function isServerCloseCode(code: number): code is ServerCloseCode {
  return Object.hasOwn(SERVER_CLOSE_ACTIONS, code);
}

/** The action for any close code; a code the server does not send (1006, …) reconnects. */
export function closeAction(code: number): CloseAction {
  return isServerCloseCode(code) ? SERVER_CLOSE_ACTIONS[code] : 'reconnect';
}
