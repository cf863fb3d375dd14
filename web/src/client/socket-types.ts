/** The chat socket's public types: options, states, events, and what it needs from outside. */

import type { BackoffOptions } from './backoff';
import type { ErrorFrame, FrameParseError, MemberFrame, PresenceFrame, ReadFrame, TypingFrame } from './frames';
import type { ChatMessage } from './types';

export type ConnectionState =
  /** not started */
  | 'idle'
  /** opening a socket */
  | 'connecting'
  /** connected */
  | 'open'
  /** waiting to retry (see `nextRetryAt`) */
  | 'reconnecting'
  /** the browser says there is no network; retries when it returns */
  | 'offline'
  /** the login was revoked or refused; no retries */
  | 'signed_out'
  /** closed by `close()` */
  | 'closed';

/** Close codes by name, and what the socket does about each (from the frames schema). */
export { CloseCode, closeAction, isServerCloseCode } from './close-codes';
export type { CloseAction, ServerCloseCode } from './close-codes';

/** What the socket needs from the session (ChatverifyClient.socketAuth()). */
export interface SocketAuth {
  /** A usable access token (refreshed first when due). */
  token(): Promise<string>;
  /** Rotate the token pair now (after close code 4001). */
  refresh(): Promise<void>;
  /**
   * Asked after repeated failed handshakes (a browser cannot see the 401): is the login still good?
   * `signed_out` stops the socket.
   */
  verify(): Promise<'ok' | 'signed_out' | 'unknown'>;
  /** Close code 4003: the login was revoked. */
  revoked(): void;
}

/** The part of the browser's WebSocket the wrapper uses (so tests can supply a fake). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** Online/offline signals (the browser's by default). */
export interface NetworkMonitor {
  online(): boolean;
  subscribe(onOnline: () => void, onOffline: () => void): () => void;
}

export const browserNetwork: NetworkMonitor | undefined =
  typeof globalThis.addEventListener === 'function' && typeof globalThis.navigator !== 'undefined'
    ? {
        online: () => globalThis.navigator.onLine !== false,
        subscribe(onOnline, onOffline) {
          globalThis.addEventListener('online', onOnline);
          globalThis.addEventListener('offline', onOffline);
          return () => {
            globalThis.removeEventListener('online', onOnline);
            globalThis.removeEventListener('offline', onOffline);
          };
        },
      }
    : undefined;

export interface ChatSocketOptions {
  /** `ws://host:port` or `wss://…` of the chat service (no path). */
  url: string;
  auth: SocketAuth;
  createSocket?: (url: string) => WebSocketLike;
  backoff?: BackoffOptions;
  random?: () => number;
  /** Idle time before a ping, ms (default 25 000). */
  pingIntervalMs?: number;
  /** Silence after a ping that counts as a dead connection, ms (default 10 000). */
  pongTimeoutMs?: number;
  /** Time allowed to open, ms (default 15 000). */
  connectTimeoutMs?: number;
  /** Open this long before the backoff resets, ms (default 10 000). */
  stableAfterMs?: number;
  /** A sent message not echoed within this time is marked failed, ms (default 10 000). */
  ackTimeoutMs?: number;
  /** Online/offline signals; the browser's by default, none in Node. */
  network?: NetworkMonitor | null;
  /** Per-room memory for deduplication. */
  maxIdsPerRoom?: number;
  newClientId?: () => string;
  /** Least time between two `read` frames of one room, ms (default 500). */
  readIntervalMs?: number;
  /** Least time between two `typing` frames, ms: `typing_interval_ms` of `GET /v1/limits` (default 1000). */
  typingIntervalMs?: number;
  /** Longest message, in Unicode scalar values: `max_message_chars` of `GET /v1/limits` (default 4000). */
  maxMessageChars?: number;
  /** Largest frame, in UTF-8 bytes: `max_frame_bytes` of `GET /v1/limits` (default 65 536); a larger one would close the socket with 1009. */
  maxFrameBytes?: number;
  /**
   * The signed-in user's id: a `read` frame of theirs (another tab or device) raises the
   * marker this socket would otherwise send again.
   */
  selfId?: () => string | undefined;
}

/** A message sent but not yet echoed back as stored. */
export interface PendingMessage {
  clientId: string;
  room: string;
  message: string;
  /** Not acknowledged in time, or refused: offer a retry. */
  failed: boolean;
  /** The last error frame that arrived while it was in flight, if any. */
  error?: ErrorFrame;
}

export interface SocketEvents extends Record<string, unknown> {
  state: ConnectionState;
  /** A new stored message of a room this socket is in (never the same (room, id) twice). */
  message: ChatMessage;
  joined: string;
  left: string;
  /** An `error` frame; the socket stays open. */
  error: ErrorFrame;
  /** The pending sends changed. */
  pending: PendingMessage[];
  /** A member's read marker moved (read receipts; the user's own from other sockets too). */
  read: ReadFrame;
  /** Someone else is typing in a joined room: show it for about 5 s. */
  typing: TypingFrame;
  /** The user became a member of a room without joining it (a first direct message). */
  member: MemberFrame;
  /** A user came online in a joined room (first socket) or went offline (last one). */
  presence: PresenceFrame;
  /** A malformed frame (logged, otherwise ignored). Frame types it does not know are ignored silently. */
  protocol_error: FrameParseError;
}
