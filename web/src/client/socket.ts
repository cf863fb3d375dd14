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
 */

import { backoffDelay, type BackoffOptions } from './backoff';
import { Emitter } from './emitter';
import { ApiError } from './errors';
import { encodeClientFrame, FrameParseError, parseServerFrame, type ClientFrame, type ErrorFrame } from './frames';
import { LOBBY } from './rooms';
import { SeenTracker } from './seen';
import type { ChatMessage } from './types';

export type ConnectionState =
  /** not started */
  | 'idle'
  /** opening a socket */
  | 'connecting'
  /** connected */
  | 'open'
  /** waiting to retry (see `nextRetryAt`) */
  | 'reconnecting'
  /** the browser says there is no network; retries when it returns */
  | 'offline'
  /** the login was revoked or refused; no retries */
  | 'signed_out'
  /** closed by `close()` */
  | 'closed';

/** Close codes of the contract. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  Abnormal: 1006,
  TooBig: 1009,
  TryAgainLater: 1013,
  TokenExpired: 4001,
  TokenRevoked: 4003,
} as const;

/** What the socket needs from the session (ChatverifyClient.socketAuth()). */
export interface SocketAuth {
  /** A usable access token (refreshed first when due). */
  token(): Promise<string>;
  /** Rotate the token pair now (after close code 4001). */
  refresh(): Promise<void>;
  /**
   * Asked after repeated failed handshakes (a browser cannot see the 401): is the login still good?
   * `signed_out` stops the socket.
   */
  verify(): Promise<'ok' | 'signed_out' | 'unknown'>;
  /** Close code 4003: the login was revoked. */
  revoked(): void;
}

/** The part of the browser's WebSocket the wrapper uses (so tests can supply a fake). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** Online/offline signals (the browser's by default). */
export interface NetworkMonitor {
  online(): boolean;
  subscribe(onOnline: () => void, onOffline: () => void): () => void;
}

export const browserNetwork: NetworkMonitor | undefined =
  typeof globalThis.addEventListener === 'function' && typeof globalThis.navigator !== 'undefined'
    ? {
        online: () => globalThis.navigator.onLine !== false,
        subscribe(onOnline, onOffline) {
          globalThis.addEventListener('online', onOnline);
          globalThis.addEventListener('offline', onOffline);
          return () => {
            globalThis.removeEventListener('online', onOnline);
            globalThis.removeEventListener('offline', onOffline);
          };
        },
      }
    : undefined;

export interface ChatSocketOptions {
  /** `ws://host:port` or `wss://…` of the chat service (no path). */
  url: string;
  auth: SocketAuth;
  createSocket?: (url: string) => WebSocketLike;
  backoff?: BackoffOptions;
  random?: () => number;
  /** Idle time before a ping, ms (default 25 000). */
  pingIntervalMs?: number;
  /** Silence after a ping that counts as a dead connection, ms (default 10 000). */
  pongTimeoutMs?: number;
  /** Time allowed to open, ms (default 15 000). */
  connectTimeoutMs?: number;
  /** Open this long before the backoff resets, ms (default 10 000). */
  stableAfterMs?: number;
  /** A sent message not echoed within this time is marked failed, ms (default 10 000). */
  ackTimeoutMs?: number;
  /** Online/offline signals; the browser's by default, none in Node. */
  network?: NetworkMonitor | null;
  /** Per-room memory for deduplication. */
  maxIdsPerRoom?: number;
  newClientId?: () => string;
}

/** A message sent but not yet echoed back as stored. */
export interface PendingMessage {
  clientId: string;
  room: string;
  message: string;
  /** Not acknowledged in time, or refused: offer a retry. */
  failed: boolean;
  /** The last error frame that arrived while it was in flight, if any. */
  error?: ErrorFrame;
}

export interface SocketEvents extends Record<string, unknown> {
  state: ConnectionState;
  /** A new stored message of a room this socket is in (never the same (room, id) twice). */
  message: ChatMessage;
  joined: string;
  left: string;
  /** An `error` frame; the socket stays open. */
  error: ErrorFrame;
  /** The pending sends changed. */
  pending: PendingMessage[];
  /** A frame that is not the contract's (logged, otherwise ignored). */
  protocol_error: FrameParseError;
}

const SEND_ERRORS = new Set(['message_too_long', 'empty_message', 'rate_limited', 'unavailable', 'not_joined']);

interface Outgoing extends PendingMessage {
  /** The connection generation it was last written on (0: not yet). */
  sentOn: number;
  ackTimer?: ReturnType<typeof setTimeout>;
}

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
  private readonly outbox = new Map<string, Outgoing>();
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
      ...options,
      url: options.url.replace(/\/+$/, ''),
      backoff: options.backoff ?? {},
      network: options.network === undefined ? (browserNetwork ?? null) : options.network,
    };
    this.seen = new SeenTracker(this.opts.maxIdsPerRoom);
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
    return [...this.outbox.values()]
      .filter((m) => room === undefined || m.room === room)
      .map(({ clientId, room: r, message, failed, error }) => ({ clientId, room: r, message, failed, error }));
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
    if (options.since !== undefined) this.seen.advance(room, options.since);
    const known = this.rooms.get(room);
    if (known && options.since === undefined) return;
    this.rooms.set(room, { joined: known?.joined ?? false });
    this.write({ type: 'join', room, ...this.sinceOf(room) });
  }

  leave(room: string): void {
    if (!this.rooms.delete(room)) return;
    this.seen.forget(room);
    let changed = false;
    for (const [id, m] of this.outbox) {
      if (m.room === room) {
        clearTimeout(m.ackTimer);
        this.outbox.delete(id);
        changed = true;
      }
    }
    if (changed) this.emitPending();
    this.write({ type: 'leave', room });
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
    const out: Outgoing = { clientId, room, message, failed: false, sentOn: 0 };
    this.outbox.set(clientId, out);
    this.transmit(out);
    this.emitPending();
    return clientId;
  }

  /** Sends a failed message again with the same `client_id` (never stored twice). */
  retry(clientId: string): void {
    const out = this.outbox.get(clientId);
    if (!out) return;
    out.failed = false;
    out.error = undefined;
    out.sentOn = 0;
    this.transmit(out);
    this.emitPending();
  }

  /** Forgets a pending message (it may still have been stored). */
  discard(clientId: string): void {
    const out = this.outbox.get(clientId);
    if (!out) return;
    clearTimeout(out.ackTimer);
    this.outbox.delete(clientId);
    this.emitPending();
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
    for (const out of this.outbox.values()) out.sentOn = 0;
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
    for (const out of this.outbox.values()) clearTimeout(out.ackTimer);
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
    let frame;
    try {
      frame = parseServerFrame(data);
    } catch (err) {
      if (err instanceof FrameParseError) {
        this.events.emit('protocol_error', err);
        return;
      }
      throw err;
    }
    switch (frame.type) {
      case 'message': {
        const { type: _type, ...message } = frame;
        if (message.client_id) this.acknowledge(message.client_id);
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
        for (const out of this.outbox.values()) if (out.room === frame.room && out.sentOn !== this.generation) this.transmit(out);
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
      case 'error': {
        if (SEND_ERRORS.has(frame.code)) {
          let changed = false;
          for (const out of this.outbox.values()) {
            if (out.sentOn === this.generation && !out.failed) {
              out.failed = true;
              out.error = frame;
              clearTimeout(out.ackTimer);
              changed = true;
            }
          }
          if (changed) this.emitPending();
        }
        this.events.emit('error', frame);
        return;
      }
    }
  }

  private acknowledge(clientId: string): void {
    const out = this.outbox.get(clientId);
    if (!out) return;
    clearTimeout(out.ackTimer);
    this.outbox.delete(clientId);
    this.emitPending();
  }

  private transmit(out: Outgoing): void {
    if (!this.opened || !this.rooms.get(out.room)?.joined) return;
    if (!this.write({ type: 'message', room: out.room, message: out.message, client_id: out.clientId })) return;
    out.sentOn = this.generation;
    clearTimeout(out.ackTimer);
    out.ackTimer = setTimeout(() => {
      if (!this.outbox.has(out.clientId) || out.failed) return;
      out.failed = true;
      this.emitPending();
    }, this.opts.ackTimeoutMs);
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

  private emitPending(): void {
    this.events.emit('pending', this.pending());
  }
}
