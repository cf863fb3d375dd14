/**
 * The HTTP error codes, read off the generated OpenAPI types: every operation's error
 * answers carry `{"error": {"code": <enum>, "message"}}`, and the union of those enums is
 * what a client can meet. Nothing here is copied from the contract by hand.
 */

import type { operations as ChatOperations } from './generated/chat';
import type { operations as VerificationOperations } from './generated/verification';

/** The `code` of one answer's JSON error body, or never for an answer that is not an error. */
type CodeOfAnswer<Answer> = Answer extends { content: { 'application/json': { error: { code: infer Code } } } } ? Code : never;

/** Every error code one operation answers with, e.g. `ErrorCodeOf<VerificationOperations['confirm']>`. */
export type ErrorCodeOf<Operation> = Operation extends { responses: infer Answers }
  ? { [Status in keyof Answers]: CodeOfAnswer<Answers[Status]> }[keyof Answers]
  : never;

type CodesOfAll<Operations> = { [Id in keyof Operations]: ErrorCodeOf<Operations[Id]> }[keyof Operations];

/** What verification's operations answer with: `invalid_email`, `invalid_code`, `too_many_attempts`, … */
export type VerificationErrorCode = CodesOfAll<VerificationOperations>;

/** What chat's HTTP routes and socket handshake answer with: `invalid_room`, `forbidden`, … */
export type ChatErrorCode = CodesOfAll<ChatOperations>;

/** Codes the client gives a failure that brought no usable answer from a service. */
export type ClientErrorCode =
  /** No answer: the service is unreachable, or the request was refused by the browser (CORS). */
  | 'network_error'
  /** No answer within the client's time limit. */
  | 'timeout'
  /** An answer that is not the contract's shape (a proxy's page, say). */
  | 'bad_response'
  /** There is no session to make the request with. */
  | 'signed_out';

/** The codes the descriptions name, plus the client's own. */
export type KnownErrorCode = VerificationErrorCode | ChatErrorCode | ClientErrorCode;

/** A known code, or whatever else a newer service version may send. */
export type ErrorCode = KnownErrorCode | (string & {});
