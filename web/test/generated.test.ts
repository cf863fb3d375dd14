// The generated wire types against the descriptions they come from: precise at the type
// level (discriminated unions on `type`, literal unions for codes; checked by tsc, which
// `npm run build` runs over test/ too), and the runtime tables complete at run time.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  closeAction,
  FrameParseError,
  isKnownFrameErrorCode,
  isServerCloseCode,
  parseServerFrame,
  type ChatErrorCode,
  type ChatLimits,
  type ChatMessage,
  type ClientFrame,
  type ErrorCodeOf,
  type FrameErrorCode,
  type MessageFrame,
  type ServerCloseCode,
  type ServerFrameType,
  type VerificationErrorCode,
  type VerificationLimits,
  type VerificationOperations,
} from '../src/client';
import { patterns } from '../src/client/generated/patterns';
import framesSchema from '../../docs/api/chat.frames.schema.json';

interface Variant {
  properties?: { type?: { const?: string } };
  allOf?: Variant[];
}
const schema = framesSchema as unknown as {
  $defs: {
    ServerFrame: { oneOf: Variant[] };
    ErrorCode: { enum: string[] };
    CloseCode: { oneOf: { const: number; title: string }[] };
    RoomName: { pattern: string };
  };
};
const typeOf = (v: Variant): string | undefined => v.properties?.type?.const ?? v.allOf?.map(typeOf).find(Boolean);

describe('generated frame types', () => {
  it('are discriminated unions on type, with literal unions for codes', () => {
    expectTypeOf<ServerFrameType>().toEqualTypeOf<
      'message' | 'joined' | 'left' | 'pong' | 'error' | 'read' | 'typing' | 'member' | 'presence'
    >();
    expectTypeOf<ClientFrame['type']>().toEqualTypeOf<'message' | 'join' | 'leave' | 'read' | 'typing' | 'ping'>();
    expectTypeOf<FrameErrorCode>().toEqualTypeOf<
      | 'invalid_json'
      | 'invalid_request'
      | 'not_joined'
      | 'invalid_room'
      | 'forbidden'
      | 'message_too_long'
      | 'empty_message'
      | 'rate_limited'
      | 'unavailable'
    >();
    expectTypeOf<ServerCloseCode>().toEqualTypeOf<1001 | 1002 | 1007 | 1009 | 1013 | 4001 | 4003>();
  });

  it('keep the message frame whole (the $ref with siblings) and the optional client fields optional', () => {
    expectTypeOf<MessageFrame>().toEqualTypeOf<ChatMessage & { type: 'message' }>();
    expectTypeOf<ChatMessage['client_id']>().toEqualTypeOf<string | null>();
    expectTypeOf<{ type: 'join'; room: string }>().toMatchTypeOf<ClientFrame>();
    expectTypeOf<{ type: 'leave'; room: string }>().toMatchTypeOf<ClientFrame>();
    expectTypeOf<Extract<ClientFrame, { type: 'join' }>['since']>().toEqualTypeOf<number | null | undefined>();
  });

  it('a parser for every server frame type of the schema', () => {
    const types = schema.$defs.ServerFrame.oneOf.map(typeOf);
    expect(types).toHaveLength(9);
    for (const type of types) {
      // Known: either parsed (pong) or refused for its missing fields, never ignored as unknown.
      let result: unknown = 'refused';
      try {
        result = parseServerFrame(JSON.stringify({ type }));
      } catch (err) {
        expect(err).toBeInstanceOf(FrameParseError);
      }
      expect(result, String(type)).not.toBeUndefined();
    }
    expect(parseServerFrame('{"type":"a-newer-frame"}')).toBeUndefined();
  });

  it('every error code and close code of the schema is known at run time', () => {
    for (const code of schema.$defs.ErrorCode.enum) expect(isKnownFrameErrorCode(code), code).toBe(true);
    expect(isKnownFrameErrorCode('a_newer_code')).toBe(false);
    for (const { const: code } of schema.$defs.CloseCode.oneOf) expect(isServerCloseCode(code), String(code)).toBe(true);
    expect(isServerCloseCode(1006)).toBe(false);
  });

  it('carries the schema pattern of a room name', () => {
    expect(patterns.RoomName).toBe(schema.$defs.RoomName.pattern);
  });
});

describe('close codes', () => {
  it('say what to do: refresh on 4001, sign out on 4003, reconnect (with since) on the rest', () => {
    expect(closeAction(4001)).toBe('refresh');
    expect(closeAction(4003)).toBe('sign_out');
    for (const code of [1001, 1002, 1007, 1009, 1013, 1006, 1000, 4999]) expect(closeAction(code), String(code)).toBe('reconnect');
  });
});

describe('generated HTTP types', () => {
  it('error codes are the union of every operation’s error answers', () => {
    expectTypeOf<VerificationErrorCode>().toEqualTypeOf<
      'invalid_request' | 'invalid_email' | 'invalid_code' | 'too_many_attempts' | 'rate_limited' | 'invalid_token' | 'unavailable'
    >();
    expectTypeOf<ChatErrorCode>().toEqualTypeOf<
      'invalid_request' | 'invalid_room' | 'invalid_token' | 'forbidden' | 'not_found' | 'rate_limited' | 'unavailable'
    >();
    expectTypeOf<ErrorCodeOf<VerificationOperations['confirm']>>().toEqualTypeOf<
      'invalid_request' | 'invalid_email' | 'invalid_code' | 'too_many_attempts' | 'rate_limited' | 'unavailable'
    >();
  });

  it('limits have every field the services serve', () => {
    expectTypeOf<keyof ChatLimits>().toEqualTypeOf<
      | 'max_message_chars'
      | 'max_frame_bytes'
      | 'chat_rate'
      | 'chat_burst'
      | 'max_client_id_chars'
      | 'typing_interval_ms'
      | 'max_rooms_per_socket'
      | 'max_sockets_per_user'
      | 'max_memberships'
      | 'history_limit'
    >();
    expectTypeOf<keyof VerificationLimits>().toEqualTypeOf<
      'code_length' | 'code_ttl_secs' | 'resend_cooldown_secs' | 'max_code_attempts' | 'display_name_min_chars' | 'display_name_max_chars'
    >();
  });
});
