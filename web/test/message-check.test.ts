import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatSocket, checkMessage, MessageRefused } from '../src/client';
import { FakeSocket, fakeAuth } from './helpers';

const limits = { maxMessageChars: 5, maxFrameBytes: 200 };
const frameOf = (message: string) => JSON.stringify({ type: 'message', room: 'r', message, client_id: 'c-1' });
const refusal = (message: string, l = limits): string | undefined => {
  try {
    checkMessage(message, frameOf(message), l);
    return undefined;
  } catch (err) {
    if (err instanceof MessageRefused) return err.code;
    throw err;
  }
};

describe('checkMessage', () => {
  it('refuses what the service would, with its code', () => {
    expect(refusal('hello')).toBeUndefined();
    expect(refusal('hello!')).toBe('message_too_long');
    expect(refusal(' \n\t ')).toBe('empty_message');
    expect(refusal('a\0b')).toBe('invalid_request');
    expect(refusal('hi', { maxMessageChars: 5, maxFrameBytes: 40 })).toBe('frame_too_large');
  });

  it('counts Unicode scalar values, as the service does, and bytes for the frame', () => {
    expect(refusal('😀😀😀😀😀')).toBeUndefined(); // 5 scalar values, 10 UTF-16 units
    expect(refusal('😀😀😀😀😀😀')).toBe('message_too_long');
    // 4 bytes each in UTF-8: the frame is over 60 bytes though the text is 5 characters.
    expect(refusal('😀😀😀😀😀', { maxMessageChars: 5, maxFrameBytes: 60 })).toBe('frame_too_large');
  });

  it('says which limit it went over', () => {
    try {
      checkMessage('toolong', frameOf('toolong'), limits);
    } catch (err) {
      expect(err).toBeInstanceOf(MessageRefused);
      expect((err as MessageRefused).limit).toBe(5);
    }
  });
});

describe('ChatSocket.send', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
  });
  afterEach(() => vi.useRealTimers());

  it('throws MessageRefused and sends and keeps nothing for a message over the limits', async () => {
    const socket = new ChatSocket({
      url: 'ws://chat',
      auth: fakeAuth().auth,
      createSocket: (url) => new FakeSocket(url),
      network: null,
      maxMessageChars: 3,
    });
    socket.join('lobby');
    socket.connect();
    await vi.advanceTimersByTimeAsync(0);
    const ws = FakeSocket.last();
    ws.open();
    ws.receive({ type: 'joined', room: 'lobby' });
    expect(() => socket.send('lobby', 'four')).toThrow(MessageRefused);
    expect(socket.pending()).toEqual([]);
    expect(ws.frames('message')).toEqual([]);
    socket.send('lobby', 'abc');
    expect(ws.frames('message')).toHaveLength(1);
    socket.close();
  });

  it('uses the contract’s defaults when not told the service’s', () => {
    const socket = new ChatSocket({ url: 'ws://chat', auth: fakeAuth().auth, network: null });
    expect(() => socket.send('lobby', 'x'.repeat(4000))).not.toThrow();
    expect(() => socket.send('lobby', 'x'.repeat(4001))).toThrow('at most 4000 characters');
  });
});
