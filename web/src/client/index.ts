/** Typed client of the chatverify public contract (shared/CONTRACT.md). */
export { ChatverifyClient } from './api';
export type { ClientOptions, ClientEvents, SignOutReason } from './api';
export { ChatSocket, CloseCode, browserNetwork } from './socket';
export type { ChatSocketOptions, ConnectionState, NetworkMonitor, PendingMessage, SocketAuth, SocketEvents, WebSocketLike } from './socket';
export { ApiError, isApiError, describeError, errorFromBody, errorFromResponse, parseRetryAfter } from './errors';
export type { ErrorCode, KnownErrorCode, DescribeContext } from './errors';
export { parseServerFrame, parseMessage, encodeClientFrame, FrameParseError } from './frames';
export type {
  ClientFrame,
  ServerFrame,
  MessageFrame,
  JoinedFrame,
  LeftFrame,
  PongFrame,
  ErrorFrame,
  FrameErrorCode,
  ReadFrame,
  TypingFrame,
  MemberFrame,
  PresenceFrame,
} from './frames';
export { parseHistory, parsePresence, parseRooms, parseRoomSummary } from './responses';
export { ReadMarkers } from './read-markers';
export type { ReadMarkerOptions } from './read-markers';
export { TypingThrottle } from './typing-throttle';
export { backoffDelay, DEFAULT_BACKOFF } from './backoff';
export type { BackoffOptions } from './backoff';
export { SeenTracker } from './seen';
export {
  MemoryStore,
  WebStorageStore,
  browserLock,
  needsRefresh,
  refreshDelayMs,
  refreshMarginMs,
  sessionFromPair,
} from './session';
export type { LockFn, SessionStore, StoredSession } from './session';
export { LOBBY, directPeer, directRoom, isDirectRoom, isUuid, isValidRoom, normalizeRoomInput } from './rooms';
export type {
  ChatMessage,
  HistoryQuery,
  HistoryResponse,
  PresenceResponse,
  PresentUser,
  RoomSummary,
  RoomsResponse,
  SendCodeResult,
  TokenPair,
  User,
} from './types';
