/**
 * The connection under a ChatSocket: one WebSocket at a time to `/ws/chat/?token=…`,
 * opened again after every drop, with what each close code asks for (close-codes.ts).
 * It knows nothing of rooms: ChatSocket hears `opened`, `frame` and `lost`, and writes
 * frames through it.
 *
 * - A fresh token for every attempt; 4001 refreshes first, 4003 ends the session.
 * - Exponential backoff with jitter, reset once a connection has been stable; at once
 *   when the browser comes back online, and no attempts while it is offline.
 * - A refused handshake (401) looks like any network failure in a browser, so after two
 *   failed handshakes it asks the session whether the login is still good.
 * - A connection that goes silent is dropped (heartbeat.ts).
 */

import { backoffDelay, type BackoffOptions } from './backoff';
import { closeAction, CloseCode } from './close-codes';
import { ApiError } from './errors';
import { encodeClientFrame } from './frames';
import { Heartbeat } from './heartbeat';
import type { ConnectionState, NetworkMonitor, SocketAuth, WebSocketLike } from './socket-types';

export interface LinkOptions {
  /** `ws://host:port` or `wss://…` of the chat service, without a trailing slash. */
  url: string;
  auth: SocketAuth;
  createSocket: (url: string) => WebSocketLike;
  backoff: BackoffOptions;
  random: () => number;
  network: NetworkMonitor | null;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  connectTimeoutMs: number;
  stableAfterMs: number;
}

export interface LinkEvents {
  /** A connection opened: nothing is joined on it yet but the URL's room. */
  opened(): void;
  /** A frame arrived on the current connection. */
  frame(data: unknown): void;
  /** The current connection is gone (or being replaced): nothing is joined any more. */
  lost(): void;
  state(state: ConnectionState): void;
}

export class SocketLink {
  private ws: WebSocketLike | null = null;
  /** Bumped for every connection, so events of an old one are ignored. */
  private gen = 0;
  private opened = false;
  private current: ConnectionState = 'idle';
  private stopped = true;
  private attempt = 0;
  private failedHandshakes = 0;
  private retryAt: number | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private unsubscribeNetwork: (() => void) | undefined;
  private readonly heartbeat: Heartbeat;

  constructor(
    private readonly opts: LinkOptions,
    private readonly on: LinkEvents,
  ) {
    this.heartbeat = new Heartbeat({
      intervalMs: opts.pingIntervalMs,
      timeoutMs: opts.pongTimeoutMs,
      ping: () => this.write(encodeClientFrame({ type: 'ping' })),
      dead: () => {
        if (!this.opened) return;
        this.drop(CloseCode.Normal, 'no pong');
        this.afterFailure(true);
      },
    });
  }

  get state(): ConnectionState {
    return this.current;
  }

  get nextRetryAt(): number | undefined {
    return this.current === 'reconnecting' ? this.retryAt : undefined;
  }

  /** The current connection's number: a write on an older one did not reach this one. */
  get generation(): number {
    return this.gen;
  }

  get isOpen(): boolean {
    return this.opened;
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

  close(): void {
    this.stopped = true;
    this.unsubscribeNetwork?.();
    this.unsubscribeNetwork = undefined;
    this.drop(CloseCode.Normal, 'closed by the client');
    this.setState('closed');
  }

  reconnect(): void {
    if (this.stopped) return;
    this.drop(CloseCode.Normal, 'reconnecting');
    this.attempt = 0;
    void this.open();
  }

  /** Sends a text frame on the open connection; false when there is none. */
  write(text: string): boolean {
    if (!this.ws || !this.opened) return false;
    try {
      this.ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    if (this.opts.network && !this.opts.network.online()) {
      this.setState('offline');
      return;
    }
    const generation = ++this.gen;
    this.setState('connecting');
    let token: string;
    try {
      token = await this.opts.auth.token();
    } catch (err) {
      if (generation !== this.gen || this.stopped) return;
      if (err instanceof ApiError && (err.status === 401 || err.code === 'signed_out')) {
        this.signedOut(false);
      } else {
        this.scheduleReconnect();
      }
      return;
    }
    if (generation !== this.gen || this.stopped) return;

    let ws: WebSocketLike;
    try {
      ws = this.opts.createSocket(`${this.opts.url}/ws/chat/?token=${encodeURIComponent(token)}`);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.opened = false;
    const live = () => generation === this.gen && this.ws === ws;
    ws.onopen = () => live() && this.onOpen();
    ws.onmessage = (ev) => {
      if (!live()) return;
      this.heartbeat.arm();
      this.on.frame(ev.data);
    };
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
    this.setState('open');
    this.on.opened();
    this.heartbeat.arm();
  }

  private onClose(code: number): void {
    const wasOpen = this.opened;
    this.ws = null;
    this.opened = false;
    this.disconnected();
    if (this.stopped) return;
    switch (closeAction(code)) {
      case 'sign_out':
        this.signedOut(true);
        return;
      case 'refresh':
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
      case 'reconnect':
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
    this.failedHandshakes += 1;
    if (this.failedHandshakes >= 2 && (!this.opts.network || this.opts.network.online())) {
      const generation = this.gen;
      this.setState('connecting');
      this.opts.auth.verify().then(
        (verdict) => {
          if (this.stopped || generation !== this.gen) return;
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
    this.drop(CloseCode.Normal, 'offline');
    this.setState('offline');
  }

  private signedOut(revoked: boolean): void {
    this.stopped = true;
    this.unsubscribeNetwork?.();
    this.unsubscribeNetwork = undefined;
    this.drop(CloseCode.Normal, 'signed out');
    this.setState('signed_out');
    if (revoked) this.opts.auth.revoked();
  }

  /** Detaches the current socket and closes it without waiting for its close event. */
  private drop(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    this.opened = false;
    this.gen++;
    this.disconnected();
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      // already closed
    }
  }

  /** No connection now: its timers go, and ChatSocket forgets what was joined on it. */
  private disconnected(): void {
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.connectTimer);
    clearTimeout(this.stableTimer);
    this.heartbeat.stop();
    this.on.lost();
  }

  private setState(state: ConnectionState): void {
    if (state === this.current) return;
    this.current = state;
    this.on.state(state);
  }
}
