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
