import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, ChatSocket, type ChatMessage, type ConnectionState, type NetworkMonitor } from '../src/client';
import { FakeSocket, fakeAuth, msg } from './helpers';

function setup(opts: { auth?: ReturnType<typeof fakeAuth>; network?: NetworkMonitor | null } = {}) {
  const { auth, calls } = opts.auth ?? fakeAuth();
  let ids = 0;
  const socket = new ChatSocket({
    url: 'ws://chat/',
    auth,
    createSocket: (url) => new FakeSocket(url),
    random: () => 0, // backoff = cap/2: 250, 500, 1000, ...
    network: opts.network ?? null,
    newClientId: () => `c-${++ids}`,
  });
  const messages: ChatMessage[] = [];
  const states: ConnectionState[] = [];
  socket.on('message', (m) => messages.push(m));
  socket.on('state', (s) => states.push(s));
  return { socket, calls, messages, states };
}

/** Connects and lets the server answer the lobby join. */
async function connect(socket: ChatSocket) {
  socket.connect();
  await vi.advanceTimersByTimeAsync(0);
  const ws = FakeSocket.last();
  ws.open();
  ws.receive({ type: 'joined', room: 'lobby' });
  return ws;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
});
afterEach(() => vi.useRealTimers());

describe('ChatSocket', () => {
  it('connects to /ws/chat/ with the token and reports its state', async () => {
    const { socket, states } = setup();
    const ws = await connect(socket);
    expect(ws.url).toBe('ws://chat/ws/chat/?token=tok0');
    expect(states).toEqual(['connecting', 'open']);
    expect(socket.state).toBe('open');
  });

  it('leaves the lobby the URL joined when it was not asked for', async () => {
    const { socket } = setup();
    const ws = await connect(socket);
    expect(ws.frames('leave')).toEqual([{ type: 'leave', room: 'lobby' }]);
  });

  it('joins with since and delivers each (room, id) once', async () => {
    const { socket, messages } = setup();
    socket.join('r', { since: 10 });
    const ws = await connect(socket);
    expect(ws.frames('join')).toEqual([{ type: 'join', room: 'r', since: 10 }]);
    ws.receive({ type: 'joined', room: 'r' });
    ws.receive(msg('r', 11));
    ws.receive(msg('r', 11));
    ws.receive(msg('r', 12));
    ws.receive(msg('other', 1)); // not joined: ignored
    expect(messages.map((m) => `${m.room}/${m.id}`)).toEqual(['r/11', 'r/12']);
    expect(socket.lastSeen('r')).toBe(12);
  });

  it('reconnects with exponential backoff and rejoins every room with the last id seen', async () => {
    const { socket, states, messages } = setup();
    socket.join('lobby');
    socket.join('r', { since: 0 });
    let ws = await connect(socket);
    ws.receive({ type: 'joined', room: 'r' });
    ws.receive(msg('r', 5));
    ws.receive(msg('lobby', 9));
    ws.serverClose(1006);
    expect(socket.state).toBe('reconnecting');

    // first retry after 250 ms; that one fails before opening
    await vi.advanceTimersByTimeAsync(249);
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.last().serverClose(1006);
    // second retry after 500 ms
    await vi.advanceTimersByTimeAsync(499);
    expect(FakeSocket.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(3);

    ws = FakeSocket.last();
    ws.open();
    expect(ws.frames('join')).toEqual([
      { type: 'join', room: 'lobby', since: 9 },
      { type: 'join', room: 'r', since: 5 },
    ]);
    // the replay repeats nothing already delivered, and fills the gap
    ws.receive({ type: 'joined', room: 'r' });
    ws.receive(msg('r', 5));
    ws.receive(msg('r', 6));
    expect(messages.map((m) => `${m.room}/${m.id}`)).toEqual(['r/5', 'lobby/9', 'r/6']);
    expect(states).toContain('reconnecting');
    expect(socket.state).toBe('open');
  });

  it('resets the backoff once a connection has been stable', async () => {
    const { socket } = setup();
    let ws = await connect(socket);
    ws.serverClose(1006);
    await vi.advanceTimersByTimeAsync(250);
    FakeSocket.last().serverClose(1006);
    await vi.advanceTimersByTimeAsync(500);
    ws = FakeSocket.last();
    ws.open();
    await vi.advanceTimersByTimeAsync(10_000); // stable
    ws.serverClose(1001);
    const before = FakeSocket.all.length;
    await vi.advanceTimersByTimeAsync(250);
    expect(FakeSocket.all.length).toBe(before + 1);
  });

  it('4001: refreshes the token, then reconnects at once with the new one', async () => {
    const { socket, calls } = setup();
    const ws = await connect(socket);
    ws.serverClose(4001);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.refresh).toBe(1);
    expect(FakeSocket.all).toHaveLength(2);
    expect(FakeSocket.last().url).toBe('ws://chat/ws/chat/?token=tok1');
  });

  it('4001 with a refused refresh: signed out', async () => {
    const auth = fakeAuth({
      refresh: async () => {
        throw new ApiError('invalid_token', 'no', 401);
      },
    });
    const { socket } = setup({ auth });
    const ws = await connect(socket);
    ws.serverClose(4001);
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.state).toBe('signed_out');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('4003: signed out, tells the session, never reconnects', async () => {
    const { socket, calls } = setup();
    const ws = await connect(socket);
    ws.serverClose(4003);
    expect(socket.state).toBe('signed_out');
    expect(calls.revoked).toBe(1);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('1013 (too far behind): reconnects soon and rejoins with since', async () => {
    const { socket } = setup();
    socket.join('r', { since: 40 });
    const ws = await connect(socket);
    ws.receive({ type: 'joined', room: 'r' });
    ws.receive(msg('r', 41));
    ws.serverClose(1013);
    await vi.advanceTimersByTimeAsync(250);
    const next = FakeSocket.last();
    next.open();
    expect(next.frames('join')).toEqual([{ type: 'join', room: 'r', since: 41 }]);
  });

  it('1001 (server shutting down): reconnects with backoff', async () => {
    const { socket } = setup();
    const ws = await connect(socket);
    ws.serverClose(1001);
    expect(socket.state).toBe('reconnecting');
    expect(socket.nextRetryAt).toBeDefined();
    await vi.advanceTimersByTimeAsync(250);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it.each([1002, 1007, 1009])('%i (the client sent something wrong): reconnects and keeps its rooms', async (code) => {
    const { socket, calls } = setup();
    socket.join('r', { since: 3 });
    const ws = await connect(socket);
    ws.serverClose(code);
    expect(socket.state).toBe('reconnecting');
    expect(calls.revoked).toBe(0);
    await vi.advanceTimersByTimeAsync(250);
    FakeSocket.last().open();
    expect(FakeSocket.last().frames('join')).toEqual([{ type: 'join', room: 'r', since: 3 }]);
  });

  it('asks whether the login is still good after handshakes keep failing', async () => {
    const auth = fakeAuth({ verify: async () => 'signed_out' });
    const { socket } = setup({ auth });
    socket.connect();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.last().serverClose(1006); // never opened
    await vi.advanceTimersByTimeAsync(250);
    FakeSocket.last().serverClose(1006);
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.state).toBe('signed_out');
  });

  it('a token that cannot be had because the session ended: signed out', async () => {
    const auth = fakeAuth({
      token: async () => {
        throw new ApiError('signed_out', 'not signed in', 401);
      },
    });
    const { socket } = setup({ auth });
    socket.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.state).toBe('signed_out');
    expect(FakeSocket.all).toHaveLength(0);
  });

  it('sends with a client_id, keeps the message until echoed, resends it after a reconnect', async () => {
    const { socket } = setup();
    const pending: number[] = [];
    socket.on('pending', (p) => pending.push(p.length));
    socket.join('r', { since: 0 });
    let ws = await connect(socket);
    ws.receive({ type: 'joined', room: 'r' });
    const id = socket.send('r', 'hello');
    expect(ws.frames('message')).toEqual([{ type: 'message', room: 'r', message: 'hello', client_id: id }]);
    ws.serverClose(1006);
    await vi.advanceTimersByTimeAsync(250);
    ws = FakeSocket.last();
    ws.open();
    expect(ws.frames('message')).toEqual([]); // not before the room is joined again
    ws.receive({ type: 'joined', room: 'r' });
    expect(ws.frames('message')).toEqual([{ type: 'message', room: 'r', message: 'hello', client_id: id }]);
    ws.receive(msg('r', 1, { client_id: id }));
    expect(socket.pending()).toEqual([]);
    expect(pending.at(-1)).toBe(0);
  });

  it('queues sends while disconnected', async () => {
    const { socket } = setup();
    socket.join('r');
    const id = socket.send('r', 'early');
    expect(socket.pending('r')).toMatchObject([{ clientId: id, failed: false }]);
    const ws = await connect(socket);
    ws.receive({ type: 'joined', room: 'r' });
    expect(ws.frames('message')).toHaveLength(1);
  });

  it('marks an unacknowledged or refused send failed, and retries it with the same client_id', async () => {
    const { socket } = setup();
    socket.join('r', { since: 0 });
    const ws = await connect(socket);
    ws.receive({ type: 'joined', room: 'r' });
    const id = socket.send('r', 'x');
    ws.receive({ type: 'error', code: 'rate_limited', message: 'slow down' });
    expect(socket.pending()).toMatchObject([{ clientId: id, failed: true, error: { code: 'rate_limited' } }]);
    socket.retry(id);
    expect(ws.frames('message').map((f) => f.client_id)).toEqual([id, id]);
    expect(socket.pending()[0]!.failed).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000); // no echo in time
    expect(socket.pending()[0]!.failed).toBe(true);
    socket.discard(id);
    expect(socket.pending()).toEqual([]);
  });

  it('pings when idle and reconnects when the pong does not come', async () => {
    const { socket } = setup();
    const ws = await connect(socket);
    await vi.advanceTimersByTimeAsync(25_000);
    expect(ws.frames('ping')).toHaveLength(1);
    ws.receive({ type: 'pong' });
    await vi.advanceTimersByTimeAsync(25_000);
    expect(ws.frames('ping')).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(10_000); // silence
    expect(ws.closedWith).toBeDefined();
    expect(socket.state).toBe('reconnecting');
  });

  it('offline: drops the socket at once and reconnects when the network is back', async () => {
    let online = true;
    let onOnline = () => {};
    let onOffline = () => {};
    const network: NetworkMonitor = {
      online: () => online,
      subscribe(a, b) {
        onOnline = a;
        onOffline = b;
        return () => {};
      },
    };
    const { socket } = setup({ network });
    socket.join('r', { since: 3 });
    const ws = await connect(socket);
    ws.receive({ type: 'joined', room: 'r' });
    online = false;
    onOffline();
    expect(socket.state).toBe('offline');
    expect(ws.closedWith).toBeDefined();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1); // no attempts while offline
    online = true;
    onOnline();
    await vi.advanceTimersByTimeAsync(0);
    const next = FakeSocket.last();
    expect(FakeSocket.all).toHaveLength(2);
    next.open();
    expect(next.frames('join')).toEqual([{ type: 'join', room: 'r', since: 3 }]);
  });

  it('ignores frames from a replaced socket and reports malformed ones', async () => {
    const { socket, messages } = setup();
    const errors: string[] = [];
    socket.on('protocol_error', (e) => errors.push(e.message));
    socket.join('r', { since: 0 });
    const old = await connect(socket);
    socket.reconnect();
    await vi.advanceTimersByTimeAsync(0);
    old.receive(msg('r', 1));
    expect(messages).toEqual([]);
    const ws = FakeSocket.last();
    ws.open();
    ws.receive('garbage');
    expect(errors).toEqual(['frame is not JSON']);
  });

  it('leave forgets the room, its since and its pending sends', async () => {
    const { socket } = setup();
    socket.join('r', { since: 7 });
    const ws = await connect(socket);
    ws.receive({ type: 'joined', room: 'r' });
    socket.send('r', 'bye');
    socket.leave('r');
    expect(ws.frames('leave').at(-1)).toEqual({ type: 'leave', room: 'r' });
    expect(socket.lastSeen('r')).toBeUndefined();
    expect(socket.pending()).toEqual([]);
    expect(socket.joinedRooms).toEqual([]);
  });

  it('close() stops for good', async () => {
    const { socket } = setup();
    const ws = await connect(socket);
    socket.close();
    expect(ws.closedWith).toBe(1000);
    expect(socket.state).toBe('closed');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });
});
