/**
 * The chat socket: one WebSocket carrying any number of rooms, kept alive across drops.
 *
 * - Reconnects with exponential backoff and jitter; at once when the browser comes back online.
 * - Rejoins every room with `since` = the last message id it saw there, so the service
 *   replays what was missed; messages are deduplicated by (room, id).
 * - Sends carry a `client_id`; unacknowledged sends are retried after a reconnect, and
 *   the service stores a (user, room, client_id) once, so a retry never doubles a message.
 * - Close codes: 4001 refresh the token and reconnect; 4003 signed out (no reconnect);
 *   1013 rejoin with `since`; 1001 and anything else reconnect with backoff.
 * - Pings when idle and drops a connection that stops answering.
 * - Read markers are coalesced per room and typing is throttled (read-markers.ts,
 *   typing-throttle.ts); frame types it does not know are ignored.
 */

import { backoffDelay, type BackoffOptions } from './backoff';
import { Emitter } from './emitter';
import { ApiError } from './errors';
import { encodeClientFrame, FrameParseError, parseServerFrame, type ClientFrame, type ServerFrame } from './frames';
import { Outbox } from './outbox';
import { ReadMarkers } from './read-markers';
import { LOBBY } from './rooms';
import { SeenTracker } from './seen';
import {
  browserNetwork,
  CloseCode,
  type ChatSocketOptions,
  type ConnectionState,
  type NetworkMonitor,
  type PendingMessage,
  type SocketEvents,
  type WebSocketLike,
} from './socket-types';
import { TypingThrottle } from './typing-throttle';

export * from './socket-types';

function defaultClientId(): string {
  const c = globalThis.crypto as Crypto | undefined;
  if (c?.randomUUID) return `c-${c.randomUUID()}`;
  return `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

export class ChatSocket {
  private readonly events = new Emitter<SocketEvents>();
  private readonly seen: SeenTracker;
  /** Rooms the caller wants, and whether the current connection has joined each. */
  private readonly rooms = new Map<string, { joined: boolean }>();
  private readonly outbox: Outbox;
  /** Rooms whose membership should end (`leave` with `forget`) once a connection can say so. */
  private readonly forgets = new Set<string>();
  private readonly reads: ReadMarkers;
  private readonly typingThrottle: TypingThrottle;
  private readonly opts: Required<Omit<ChatSocketOptions, 'network' | 'backoff'>> & {
    network: NetworkMonitor | null;
    backoff: BackoffOptions;
  };

  private ws: WebSocketLike | null = null;
  private generation = 0;
  private opened = false;
  private current: ConnectionState = 'idle';
  private stopped = true;
  private attempt = 0;
  private failedHandshakes = 0;
  private retryAt: number | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setTimeout> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private unsubscribeNetwork: (() => void) | undefined;

  constructor(options: ChatSocketOptions) {
    this.opts = {
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      random: Math.random,
      pingIntervalMs: 25_000,
      pongTimeoutMs: 10_000,
      connectTimeoutMs: 15_000,
      stableAfterMs: 10_000,
      ackTimeoutMs: 10_000,
      maxIdsPerRoom: 2000,
      newClientId: defaultClientId,
      readIntervalMs: 500,
      typingIntervalMs: 1000,
      selfId: () => undefined,
      ...options,
      url: options.url.replace(/\/+$/, ''),
      backoff: options.backoff ?? {},
      network: options.network === undefined ? (browserNetwork ?? null) : options.network,
    };
    this.seen = new SeenTracker(this.opts.maxIdsPerRoom);
    this.reads = new ReadMarkers({
      intervalMs: this.opts.readIntervalMs,
      // `read` needs the room joined on this connection (`not_joined` otherwise).
      write: (room, id) => this.isJoined(room) && this.write({ type: 'read', room, id }),
    });
    this.typingThrottle = new TypingThrottle(this.opts.typingIntervalMs);
    this.outbox = new Outbox({
      ackTimeoutMs: this.opts.ackTimeoutMs,
      write: (room, message, clientId) =>
        this.opened && this.isJoined(room) && this.write({ type: 'message', room, message, client_id: clientId }),
      generation: () => this.generation,
      changed: (pending) => this.events.emit('pending', pending),
    });
  }

  // ---- public API ------------------------------------------------------------------

  on<K extends keyof SocketEvents>(event: K, fn: (payload: SocketEvents[K]) => void): () => void {
    return this.events.on(event, fn);
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** When the next attempt starts (epoch ms), while `reconnecting`. */
  get nextRetryAt(): number | undefined {
    return this.current === 'reconnecting' ? this.retryAt : undefined;
  }

  /** Rooms this socket is in (or will rejoin). */
  get joinedRooms(): string[] {
    return [...this.rooms.keys()];
  }

  isJoined(room: string): boolean {
    return this.rooms.get(room)?.joined ?? false;
  }

  /** The highest message id seen in a room: the `since` of the next rejoin. */
  lastSeen(room: string): number | undefined {
    return this.seen.since(room);
  }

  /** Sends awaiting their echo, oldest first. */
  pending(room?: string): PendingMessage[] {
    return this.outbox.list(room);
  }

  connect(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribeNetwork = this.opts.network?.subscribe(
      () => this.onOnline(),
      () => this.onOffline(),
    );
    void this.open();
  }

  /** Closes for good (until `connect()` again). Rooms and pending sends are kept. */
  close(): void {
    this.reads.flushAll();
    this.stopped = true;
    this.unsubscribeNetwork?.();
    this.unsubscribeNetwork = undefined;
    this.clearTimers();
    this.drop(CloseCode.Normal, 'closed by the client');
    this.setState('closed');
  }

  /** Drops the connection and opens a new one now (e.g. to pick up a renamed token). */
  reconnect(): void {
    if (this.stopped) return;
    this.clearTimers();
    this.drop(CloseCode.Normal, 'reconnecting');
    this.attempt = 0;
    void this.open();
  }

  /**
   * Joins a room, now or on the next connection. `since`: the id of the newest message
   * already shown (from history), so the service replays everything after it.
   */
  join(room: string, options: { since?: number } = {}): void {
    this.forgets.delete(room);
    if (options.since !== undefined) this.seen.advance(room, options.since);
    const known = this.rooms.get(room);
    if (known && options.since === undefined) return;
    this.rooms.set(room, { joined: known?.joined ?? false });
    this.write({ type: 'join', room, ...this.sinceOf(room) });
  }

  /**
   * Stops this socket's delivery of the room. `forget`: also ends the user's membership
   * (the room leaves their `GET /v1/rooms`); sent on the next connection when offline.
   */
  leave(room: string, options: { forget?: boolean } = {}): void {
    const known = this.rooms.delete(room);
    if (!known && !options.forget) return;
    this.seen.forget(room);
    this.reads.forget(room);
    this.outbox.dropRoom(room);
    if (!options.forget) {
      this.write({ type: 'leave', room });
    } else if (!this.write({ type: 'leave', room, forget: true })) {
      this.forgets.add(room);
    }
  }

  /**
   * The user has seen the room up to message `id`. Coalesced: at most one `read` frame per
   * room every `readIntervalMs` with the highest id, none at or below what the service has;
   * kept until the room is joined when it cannot go out now.
   */
  markRead(room: string, id: number): void {
    this.reads.mark(room, id);
  }

  /** The service's marker (e.g. `read_id` of `GET /v1/rooms`): no frame at or below it is sent. */
  knownRead(room: string, id: number): void {
    this.reads.known(room, id);
  }

  /** The highest id marked read through this socket or known to the service. */
  readMarker(room: string): number | undefined {
    return this.reads.highest(room);
  }

  /** Sends every waiting read marker now (the page is being hidden or closed). */
  flushReads(): void {
    this.reads.flushAll();
  }

  /**
   * Tells the room the user is typing. At most one frame every `typingIntervalMs` (the
   * service ignores more); nothing when the room is not joined now (typing is not worth
   * keeping for later). Returns whether a frame went out.
   */
  typing(room: string): boolean {
    if (!this.isJoined(room) || !this.typingThrottle.take()) return false;
    return this.write({ type: 'typing', room });
  }

  /** Marks ids already shown (e.g. from history) so they are not reported again. */
  markSeen(room: string, ids: Iterable<number>): void {
    for (const id of ids) this.seen.add(room, id);
  }

  /**
   * Sends a message to a joined room; returns its `client_id`. Sent now when connected,
   * otherwise when the room is next joined; kept until the service echoes it.
   */
  send(room: string, message: string): string {
    const clientId = this.opts.newClientId();
    this.outbox.add(clientId, room, message);
    return clientId;
  }

  /** Sends a failed message again with the same `client_id` (never stored twice). */
  retry(clientId: string): void {
    this.outbox.retry(clientId);
  }

  /** Forgets a pending message (it may still have been stored). */
  discard(clientId: string): void {
    this.outbox.remove(clientId);
  }

  // ---- connection ------------------------------------------------------------------

  private async open(): Promise<void> {
    if (this.stopped) return;
    if (this.opts.network && !this.opts.network.online()) {
      this.setState('offline');
      return;
    }
    const generation = ++this.generation;
    this.setState('connecting');
    let token: string;
    try {
      token = await this.opts.auth.token();
    } catch (err) {
      if (generation !== this.generation || this.stopped) return;
      if (err instanceof ApiError && (err.status === 401 || err.code === 'signed_out')) {
        this.signedOut(false);
      } else {
        this.scheduleReconnect();
      }
      return;
    }
    if (generation !== this.generation || this.stopped) return;

    let ws: WebSocketLike;
    try {
      ws = this.opts.createSocket(`${this.opts.url}/ws/chat/?token=${encodeURIComponent(token)}`);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.opened = false;
    const live = () => generation === this.generation && this.ws === ws;
    ws.onopen = () => live() && this.onOpen();
    ws.onmessage = (ev) => live() && this.onFrame(ev.data);
    ws.onclose = (ev) => live() && this.onClose(ev.code);
    ws.onerror = () => undefined; // a close event follows
    this.connectTimer = setTimeout(() => {
      if (!live() || this.opened) return;
      this.drop(CloseCode.Normal, 'connect timeout');
      this.afterFailure(false);
    }, this.opts.connectTimeoutMs);
  }

  private onOpen(): void {
    clearTimeout(this.connectTimer);
    this.opened = true;
    this.failedHandshakes = 0;
    this.stableTimer = setTimeout(() => {
      this.attempt = 0;
    }, this.opts.stableAfterMs);
    for (const state of this.rooms.values()) state.joined = false;
    this.setState('open');
    // The URL's room (lobby) is joined by the service on connect; rejoin the rest,
    // and the lobby too when there is a `since` to catch up from.
    for (const room of this.rooms.keys()) {
      const since = this.sinceOf(room);
      if (room === LOBBY && since.since === undefined) continue;
      this.write({ type: 'join', room, ...since });
    }
    this.outbox.connectionOpened();
    for (const room of this.forgets) if (this.write({ type: 'leave', room, forget: true })) this.forgets.delete(room);
    this.typingThrottle.reset();
    this.armPing();
  }

  private onClose(code: number): void {
    const wasOpen = this.opened;
    this.ws = null;
    this.opened = false;
    this.clearTimers();
    for (const state of this.rooms.values()) state.joined = false;
    if (this.stopped) return;
    switch (code) {
      case CloseCode.TokenRevoked:
        this.signedOut(true);
        return;
      case CloseCode.TokenExpired:
        this.setState('connecting');
        this.opts.auth.refresh().then(
          () => {
            if (this.stopped) return;
            this.attempt = 0;
            void this.open();
          },
          (err: unknown) => {
            if (this.stopped) return;
            if (err instanceof ApiError && err.status === 401) this.signedOut(false);
            else this.scheduleReconnect();
          },
        );
        return;
      default:
        // 1001 (shutting down), 1013 (too far behind: rejoin with since), 1006, ...
        this.afterFailure(wasOpen);
    }
  }

  /** After a drop: reconnect with backoff, first asking whether the login is still good. */
  private afterFailure(wasOpen: boolean): void {
    if (this.stopped) return;
    if (wasOpen) {
      this.scheduleReconnect();
      return;
    }
    // A refused handshake (401) looks like any network failure in a browser.
    this.failedHandshakes += 1;
    if (this.failedHandshakes >= 2 && (!this.opts.network || this.opts.network.online())) {
      const generation = this.generation;
      this.setState('connecting');
      this.opts.auth.verify().then(
        (verdict) => {
          if (this.stopped || generation !== this.generation) return;
          if (verdict === 'signed_out') this.signedOut(false);
          else this.scheduleReconnect();
        },
        () => this.scheduleReconnect(),
      );
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    if (this.opts.network && !this.opts.network.online()) {
      this.setState('offline');
      return;
    }
    const delay = backoffDelay(this.attempt++, this.opts.backoff, this.opts.random);
    this.retryAt = Date.now() + delay;
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => void this.open(), delay);
  }

  private onOnline(): void {
    if (this.stopped) return;
    if (this.current === 'offline' || this.current === 'reconnecting') {
      clearTimeout(this.reconnectTimer);
      this.attempt = 0;
      void this.open();
    }
  }

  /** The browser lost the network: do not wait for a dead socket to time out. */
  private onOffline(): void {
    if (this.stopped) return;
    this.clearTimers();
    this.drop(CloseCode.Normal, 'offline');
    for (const state of this.rooms.values()) state.joined = false;
    this.setState('offline');
  }

  private signedOut(revoked: boolean): void {
    this.stopped = true;
    this.unsubscribeNetwork?.();
    this.unsubscribeNetwork = undefined;
    this.clearTimers();
    this.drop(CloseCode.Normal, 'signed out');
    this.setState('signed_out');
    if (revoked) this.opts.auth.revoked();
  }

  /** Detaches the current socket and closes it without waiting for its close event. */
  private drop(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    this.opened = false;
    this.generation++;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
  }

  private clearTimers(): void {
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.connectTimer);
    clearTimeout(this.stableTimer);
    clearTimeout(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.outbox.clearTimers();
  }

  private setState(state: ConnectionState): void {
    if (state === this.current) return;
    this.current = state;
    this.events.emit('state', state);
  }

  // ---- heartbeat -------------------------------------------------------------------

  /** Any frame proves the connection alive; after `pingIntervalMs` of silence, ping. */
  private armPing(): void {
    clearTimeout(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = setTimeout(() => {
      if (!this.opened) return;
      this.write({ type: 'ping' });
      this.pongTimer = setTimeout(() => {
        if (!this.opened) return;
        this.drop(CloseCode.Normal, 'no pong');
        this.afterFailure(true);
      }, this.opts.pongTimeoutMs);
    }, this.opts.pingIntervalMs);
  }

  // ---- frames ----------------------------------------------------------------------

  private onFrame(data: unknown): void {
    this.armPing();
    if (typeof data !== 'string') {
      this.events.emit('protocol_error', new FrameParseError('binary frame'));
      return;
    }
    let frame: ServerFrame | undefined;
    try {
      frame = parseServerFrame(data);
    } catch (err) {
      if (err instanceof FrameParseError) {
        this.events.emit('protocol_error', err);
        return;
      }
      throw err;
    }
    if (!frame) return; // a frame type the contract may add later
    switch (frame.type) {
      case 'message': {
        const { type: _type, ...message } = frame;
        if (message.client_id) this.outbox.remove(message.client_id);
        if (!this.rooms.has(message.room)) return;
        if (!this.seen.add(message.room, message.id)) return;
        this.events.emit('message', message);
        return;
      }
      case 'joined': {
        const state = this.rooms.get(frame.room);
        if (!state) {
          // The URL's lobby, when the caller does not want it.
          this.write({ type: 'leave', room: frame.room });
          return;
        }
        state.joined = true;
        this.events.emit('joined', frame.room);
        this.reads.resume(frame.room);
        this.outbox.roomJoined(frame.room);
        return;
      }
      case 'left': {
        const state = this.rooms.get(frame.room);
        if (state) state.joined = false;
        this.events.emit('left', frame.room);
        return;
      }
      case 'pong':
        return;
      case 'read':
        if (frame.user_id === this.opts.selfId()) this.reads.known(frame.room, frame.id);
        this.events.emit('read', frame);
        return;
      case 'typing':
        this.events.emit('typing', frame);
        return;
      case 'member':
        this.events.emit('member', frame);
        return;
      case 'presence':
        this.events.emit('presence', frame);
        return;
      case 'error': {
        this.outbox.errorFrame(frame);
        this.events.emit('error', frame);
        return;
      }
    }
  }

  private write(frame: ClientFrame): boolean {
    if (!this.ws || !this.opened) return false;
    try {
      this.ws.send(encodeClientFrame(frame));
      return true;
    } catch {
      return false;
    }
  }

  private sinceOf(room: string): { since?: number } {
    const since = this.seen.since(room);
    return since === undefined ? {} : { since };
  }
}
