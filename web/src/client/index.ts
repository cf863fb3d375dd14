/**
 * Typed client of the chatverify public contract (shared/CONTRACT.md). Its wire types
 * are generated from docs/api/ (generated/, `npm run gen`); docs/api/README.md shows it in use.
 */
export { ChatverifyClient } from './api';
export type { ClientOptions, ClientEvents, SignOutReason } from './api';
export { ChatSocket, CloseCode, browserNetwork, closeAction, isServerCloseCode } from './socket';
export type {
  ChatSocketOptions,
  CloseAction,
  ConnectionState,
  NetworkMonitor,
  PendingMessage,
  ServerCloseCode,
  SocketAuth,
  SocketEvents,
  WebSocketLike,
} from './socket';
export { MessageRefused, checkMessage } from './message-check';
export type { MessageLimits, RefusalCode } from './message-check';
export { ApiError, isApiError, isKnownErrorCode, describeError, errorFromBody, errorFromResponse, parseRetryAfter } from './errors';
export type {
  ChatErrorCode,
  ClientErrorCode,
  DescribeContext,
  ErrorCode,
  ErrorCodeOf,
  KnownErrorCode,
  VerificationErrorCode,
} from './errors';
export {
  DEFAULT_CHAT_LIMITS,
  DEFAULT_VERIFICATION_LIMITS,
  chatLimitsFrom,
  loadLimits,
  socketLimits,
  verificationLimitsFrom,
} from './limits';
export type { Limits, LimitsSource } from './limits';
export { parseServerFrame, parseMessage, encodeClientFrame, isKnownFrameErrorCode, FrameParseError } from './frames';
export type {
  ClientFrame,
  FrameOf,
  ServerFrame,
  ServerFrameType,
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
  ChatLimits,
  ChatMessage,
  ChatOperations,
  HistoryQuery,
  HistoryResponse,
  PresenceResponse,
  PresentUser,
  RoomSummary,
  RoomsResponse,
  SendCodeResult,
  TokenPair,
  User,
  VerificationLimits,
  VerificationOperations,
} from './types';
