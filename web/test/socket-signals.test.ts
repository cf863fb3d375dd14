// The socket's frames beyond messages: read markers, typing, forget, and the events of
// the contract's "rooms, read markers, typing and presence" section.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatSocket, type MemberFrame, type PresenceFrame, type ReadFrame, type TypingFrame } from '../src/client';
import { FakeSocket, fakeAuth } from './helpers';

const ME = '00000000-0000-4000-8000-00000000000a';

function setup() {
  const { auth } = fakeAuth();
  const socket = new ChatSocket({
    url: 'ws://chat',
    auth,
    createSocket: (url) => new FakeSocket(url),
    random: () => 0,
    network: null,
    selfId: () => ME,
  });
  return socket;
}

async function connect(socket: ChatSocket, ...rooms: string[]) {
  for (const room of rooms) socket.join(room, { since: 0 });
  socket.connect();
  await vi.advanceTimersByTimeAsync(0);
  const ws = FakeSocket.last();
  ws.open();
  ws.receive({ type: 'joined', room: 'lobby' });
  for (const room of rooms) ws.receive({ type: 'joined', room });
  return ws;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000);
  FakeSocket.all = [];
});
afterEach(() => vi.useRealTimers());

describe('ChatSocket read markers', () => {
  it('coalesces marks into one read frame per room per interval, highest id, never backwards', async () => {
    const socket = setup();
    const ws = await connect(socket, 'r');
    for (let id = 1; id <= 30; id++) socket.markRead('r', id);
    socket.markRead('r', 4);
    expect(ws.frames('read')).toEqual([{ type: 'read', room: 'r', id: 1 }]);
    await vi.advanceTimersByTimeAsync(500);
    expect(ws.frames('read')).toEqual([
      { type: 'read', room: 'r', id: 1 },
      { type: 'read', room: 'r', id: 30 },
    ]);
    socket.markRead('r', 30);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(ws.frames('read')).toHaveLength(2);
  });

  it('holds a mark until the room is joined, and skips what the service or another tab has', async () => {
    const socket = setup();
    socket.join('r', { since: 0 });
    socket.knownRead('r', 5);
    socket.markRead('r', 5); // the room list's read_id: nothing to say
    socket.markRead('r', 8); // not connected yet
    const ws = await connect(socket);
    expect(ws.frames('read')).toEqual([]);
    ws.receive({ type: 'joined', room: 'r' });
    expect(ws.frames('read')).toEqual([{ type: 'read', room: 'r', id: 8 }]);
    // The user's other tab read further: its receipt raises the marker here.
    ws.receive({ type: 'read', room: 'r', user_id: ME, id: 12 });
    await vi.advanceTimersByTimeAsync(1_000);
    socket.markRead('r', 11);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ws.frames('read')).toHaveLength(1);
    expect(socket.readMarker('r')).toBe(12);
    // Someone else's receipt does not.
    ws.receive({ type: 'read', room: 'r', user_id: 'someone-else', id: 40 });
    socket.markRead('r', 13);
    expect(ws.frames('read').at(-1)).toEqual({ type: 'read', room: 'r', id: 13 });
  });
});

describe('ChatSocket typing', () => {
  it('sends at most one typing frame a second, and none for a room not joined', async () => {
    const socket = setup();
    const ws = await connect(socket, 'r');
    expect(socket.typing('r')).toBe(true);
    expect(socket.typing('r')).toBe(false);
    await vi.advanceTimersByTimeAsync(999);
    expect(socket.typing('r')).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.typing('r')).toBe(true);
    expect(socket.typing('not-joined')).toBe(false);
    expect(ws.frames('typing')).toEqual([
      { type: 'typing', room: 'r' },
      { type: 'typing', room: 'r' },
    ]);
  });

  it('sends nothing while disconnected (typing is not worth keeping)', async () => {
    const socket = setup();
    socket.join('r', { since: 0 });
    expect(socket.typing('r')).toBe(false);
    const ws = await connect(socket);
    ws.receive({ type: 'joined', room: 'r' });
    expect(ws.frames('typing')).toEqual([]);
  });
});

describe('ChatSocket leave with forget', () => {
  it('sends forget at once when connected, and on the next connection when not', async () => {
    const socket = setup();
    let ws = await connect(socket, 'a');
    socket.leave('a', { forget: true });
    expect(ws.frames('leave').at(-1)).toEqual({ type: 'leave', room: 'a', forget: true });
    ws.serverClose(1006);
    socket.leave('never-joined', { forget: true }); // a listed room never opened here
    await vi.advanceTimersByTimeAsync(250);
    ws = FakeSocket.last();
    ws.open();
    expect(ws.frames('leave')).toEqual([{ type: 'leave', room: 'never-joined', forget: true }]);
    ws.serverClose(1006);
    await vi.advanceTimersByTimeAsync(500);
    FakeSocket.last().open();
    expect(FakeSocket.last().frames('leave')).toEqual([]); // said once
  });

  it('a room joined again is not forgotten on the next connection', async () => {
    const socket = setup();
    socket.leave('a', { forget: true });
    socket.join('a', { since: 0 });
    const ws = await connect(socket);
    expect(ws.frames('leave').filter((f) => f.room === 'a')).toEqual([]);
  });
});

describe('ChatSocket events', () => {
  it('reports read, typing, member and presence frames, and ignores unknown ones', async () => {
    const socket = setup();
    const seen: (ReadFrame | TypingFrame | MemberFrame | PresenceFrame)[] = [];
    const malformed: string[] = [];
    socket.on('read', (f) => seen.push(f));
    socket.on('typing', (f) => seen.push(f));
    socket.on('member', (f) => seen.push(f));
    socket.on('presence', (f) => seen.push(f));
    socket.on('protocol_error', (e) => malformed.push(e.message));
    const ws = await connect(socket, 'r');
    ws.receive({ type: 'read', room: 'r', user_id: 'u', id: 3 });
    ws.receive({ type: 'typing', room: 'r', user_id: 'u', user: 'Bob' });
    ws.receive({ type: 'member', room: 'dm.x' });
    ws.receive({ type: 'presence', room: 'r', user_id: 'u', user: 'Bob', online: true });
    ws.receive({ type: 'reaction', room: 'r', emoji: '+1' });
    ws.receive({ type: 'presence', room: 'r' });
    expect(seen.map((f) => f.type)).toEqual(['read', 'typing', 'member', 'presence']);
    expect(seen[3]).toEqual({ type: 'presence', room: 'r', user_id: 'u', user: 'Bob', online: true });
    expect(malformed).toHaveLength(1); // the presence frame without its fields, not the unknown type
  });
});
