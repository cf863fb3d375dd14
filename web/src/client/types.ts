/** Shapes of the public contract (shared/CONTRACT.md): what the services send and accept. */

/** `GET /v1/me`, and the `user` of a token pair. */
export interface User {
  id: string;
  email: string;
  display_name: string;
}

/** `202` answer of `POST /v1/verification/send`. Both values are seconds. */
export interface SendCodeResult {
  expires_in: number;
  resend_after: number;
}

/** `200` answer of `/v1/verification/confirm` and `/v1/token/refresh`. */
export interface TokenPair {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds the access token lives. */
  expires_in: number;
  refresh_token: string;
  user: User;
}

/** A stored chat message, as the socket delivers it and history returns it. */
export interface ChatMessage {
  /** Grows within a room. */
  id: number;
  room: string;
  /** The sender's display name when it was sent. */
  user: string;
  user_id: string;
  message: string;
  /** RFC 3339. */
  timestamp: string;
  client_id?: string | null;
}

/** Query of `GET /v1/rooms/{room}/messages`. */
export interface HistoryQuery {
  /** Page back: messages with an id below this one. */
  before?: number;
  /** Catch up: messages with an id above this one. */
  after?: number;
  /** 1..100, the service's default is 50. */
  limit?: number;
}

/** `200` body of `GET /v1/rooms/{room}/messages`. */
export interface HistoryResponse {
  messages: ChatMessage[];
}

/** One of the caller's memberships in `GET /v1/rooms`. */
export interface RoomSummary {
  room: string;
  /** The room's newest message id (0 while it has none). */
  last_id: number;
  /** The caller's read marker: everything up to this id counts as read. */
  read_id: number;
  /** Stored messages with id > `read_id` that others sent (exact up to 999, then 999). */
  unread: number;
  last_message: ChatMessage | null;
}

/** `200` body of `GET /v1/rooms`: the room with the newest message first. */
export interface RoomsResponse {
  rooms: RoomSummary[];
}

/** A user with at least one socket joined to a room, on any replica. */
export interface PresentUser {
  user_id: string;
  /** Display name. */
  user: string;
}

/** `200` body of `GET /v1/rooms/{room}/presence`. */
export interface PresenceResponse {
  users: PresentUser[];
}
