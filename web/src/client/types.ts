/**
 * Shapes of the HTTP side of the public contract, by the names the client has always
 * exported: aliases of the types generated from docs/api/*.openapi.json (generated/,
 * `npm run gen`), so a change to the services' descriptions changes these too.
 */

import type { components as Chat, operations as ChatOperations } from './generated/chat';
import type { components as Frames } from './generated/frames';
import type { components as Verification, operations as VerificationOperations } from './generated/verification';

type ChatSchemas = Chat['schemas'];
type VerificationSchemas = Verification['schemas'];

/** `GET /v1/me`, and the `user` of a token pair. */
export type User = VerificationSchemas['User'];

/** `202` answer of `POST /v1/verification/send`. Both values are seconds. */
export type SendCodeResult = VerificationSchemas['SendAccepted'];

/** `200` answer of `/v1/verification/confirm` and `/v1/token/refresh`. */
export type TokenPair = VerificationSchemas['TokenPair'];

/**
 * A stored chat message, as the socket delivers it (without its `type`) and history
 * returns it. The frames schema's and chat's OpenAPI `MessageView` are one Rust type;
 * `SameShape` below breaks the build if the two descriptions ever disagree.
 */
export type ChatMessage = Frames['schemas']['MessageView'];

/** Query of `GET /v1/rooms/{room}/messages` (`limit`: see `GET /v1/limits`' `history_limit`). */
export type HistoryQuery = NonNullable<ChatOperations['messages']['parameters']['query']>;

/** `200` body of `GET /v1/rooms/{room}/messages`: each message as a `message` frame. */
export type HistoryResponse = ChatSchemas['HistoryBody'];

/** One of the caller's memberships in `GET /v1/rooms`. */
export type RoomSummary = ChatSchemas['RoomView'];

/** `200` body of `GET /v1/rooms`: the room with the newest message first. */
export type RoomsResponse = ChatSchemas['RoomsBody'];

/** A user with at least one socket joined to a room, on any replica. */
export type PresentUser = ChatSchemas['PresentUser'];

/** `200` body of `GET /v1/rooms/{room}/presence`. */
export type PresenceResponse = ChatSchemas['PresenceBody'];

/** Chat's `GET /v1/limits`: message size, rates, rooms per socket, history page sizes. */
export type ChatLimits = ChatSchemas['Limits'];

/** Verification's `GET /v1/limits`: code length and lifetime, display-name bounds. */
export type VerificationLimits = VerificationSchemas['Limits'];

/** Each service's operations by id (`confirm`, `messages`, …): parameters, bodies, answers. */
export type { ChatOperations, VerificationOperations };

/** True when A and B are assignable both ways; `Assert` refuses `false` at compile time. */
export type SameShape<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export type Assert<T extends true> = T;
type MessageViewsAgree = Assert<SameShape<ChatSchemas['MessageView'], ChatMessage>>;
