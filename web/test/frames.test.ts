import { describe, expect, it } from 'vitest';
import { encodeClientFrame, FrameParseError, parseMessage, parseServerFrame } from '../src/client';

describe('parseServerFrame', () => {
  it('parses a stored message', () => {
    const f = parseServerFrame(
      '{"type":"message","id":121,"room":"r","user":"Ann","user_id":"u","message":"hi","timestamp":"2025-01-01T00:00:00Z","client_id":"c-1"}',
    );
    expect(f).toEqual({ type: 'message', id: 121, room: 'r', user: 'Ann', user_id: 'u', message: 'hi', timestamp: '2025-01-01T00:00:00Z', client_id: 'c-1' });
  });

  it('treats a missing or null client_id as null', () => {
    const base = { type: 'message', id: 1, room: 'r', user: 'A', user_id: 'u', message: 'x', timestamp: 't' };
    expect(parseServerFrame(JSON.stringify(base))).toMatchObject({ client_id: null });
    expect(parseServerFrame(JSON.stringify({ ...base, client_id: null }))).toMatchObject({ client_id: null });
  });

  it('parses joined, left, pong and error frames', () => {
    expect(parseServerFrame('{"type":"joined","room":"lobby"}')).toEqual({ type: 'joined', room: 'lobby' });
    expect(parseServerFrame('{"type":"left","room":"r"}')).toEqual({ type: 'left', room: 'r' });
    expect(parseServerFrame('{"type":"pong"}')).toEqual({ type: 'pong' });
    expect(parseServerFrame('{"type":"error","code":"rate_limited","message":"slow down"}')).toEqual({
      type: 'error',
      code: 'rate_limited',
      message: 'slow down',
    });
    expect(parseServerFrame('{"type":"error","code":"forbidden"}')).toEqual({ type: 'error', code: 'forbidden', message: 'forbidden' });
  });

  it.each([
    ['not json', 'not JSON'],
    ['[]', 'object'],
    ['{"room":"r"}', 'type'],
    ['{"type":"joined"}', 'room'],
    ['{"type":"error"}', 'code'],
    ['{"type":"message","id":"1","room":"r","user":"A","user_id":"u","message":"x","timestamp":"t"}', 'id'],
    ['{"type":"message","id":-1,"room":"r","user":"A","user_id":"u","message":"x","timestamp":"t"}', 'id'],
    ['{"type":"message","id":1.5,"room":"r","user":"A","user_id":"u","message":"x","timestamp":"t"}', 'id'],
    ['{"type":"message","id":1,"room":"r","user":"A","user_id":"u","timestamp":"t"}', 'string'],
    ['{"type":"message","id":1,"room":"r","user":"A","user_id":"u","message":"x","timestamp":"t","client_id":5}', 'client_id'],
  ])('rejects %s', (text, why) => {
    expect(() => parseServerFrame(text)).toThrow(FrameParseError);
    expect(() => parseServerFrame(text)).toThrow(why);
  });

  it('parses read, typing, member and presence frames', () => {
    expect(parseServerFrame('{"type":"read","room":"r","user_id":"u","id":120}')).toEqual({ type: 'read', room: 'r', user_id: 'u', id: 120 });
    expect(parseServerFrame('{"type":"typing","room":"r","user_id":"u","user":"Ann"}')).toEqual({
      type: 'typing',
      room: 'r',
      user_id: 'u',
      user: 'Ann',
    });
    expect(parseServerFrame('{"type":"member","room":"dm.a.b"}')).toEqual({ type: 'member', room: 'dm.a.b' });
    expect(parseServerFrame('{"type":"presence","room":"r","user_id":"u","user":"Ann","online":false}')).toEqual({
      type: 'presence',
      room: 'r',
      user_id: 'u',
      user: 'Ann',
      online: false,
    });
  });

  it('ignores frame types it does not know (the contract may add more)', () => {
    expect(parseServerFrame('{"type":"shout","room":"r"}')).toBeUndefined();
    expect(parseServerFrame('{"type":"reaction"}')).toBeUndefined();
  });

  it.each([
    ['{"type":"read","room":"r","user_id":"u"}', 'id'],
    ['{"type":"read","room":"r","user_id":"u","id":-3}', 'id'],
    ['{"type":"read","user_id":"u","id":3}', 'room'],
    ['{"type":"typing","room":"r","user_id":"u"}', 'user'],
    ['{"type":"member"}', 'room'],
    ['{"type":"presence","room":"r","user_id":"u","user":"A","online":"yes"}', 'online'],
    ['{"type":"presence","room":"r","user":"A","online":true}', 'user_id'],
  ])('rejects the malformed %s', (text, why) => {
    expect(() => parseServerFrame(text)).toThrow(FrameParseError);
    expect(() => parseServerFrame(text)).toThrow(why);
  });

  it('parseMessage checks history items the same way', () => {
    expect(() => parseMessage({ id: 1 })).toThrow(FrameParseError);
    expect(parseMessage({ id: 2, room: 'r', user: 'A', user_id: 'u', message: 'x', timestamp: 't' }).id).toBe(2);
  });
});

describe('encodeClientFrame', () => {
  it('writes the contract frames', () => {
    expect(JSON.parse(encodeClientFrame({ type: 'join', room: 'r', since: 120 }))).toEqual({ type: 'join', room: 'r', since: 120 });
    expect(JSON.parse(encodeClientFrame({ type: 'message', room: 'r', message: 'hi', client_id: 'c-1' }))).toEqual({
      type: 'message',
      room: 'r',
      message: 'hi',
      client_id: 'c-1',
    });
    expect(encodeClientFrame({ type: 'ping' })).toBe('{"type":"ping"}');
    expect(encodeClientFrame({ type: 'read', room: 'r', id: 120 })).toBe('{"type":"read","room":"r","id":120}');
    expect(encodeClientFrame({ type: 'typing', room: 'r' })).toBe('{"type":"typing","room":"r"}');
    expect(encodeClientFrame({ type: 'leave', room: 'r', forget: true })).toBe('{"type":"leave","room":"r","forget":true}');
  });
});
