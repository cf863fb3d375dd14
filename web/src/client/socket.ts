/**
 * The chat socket: one WebSocket carrying any number of rooms, kept alive across drops.
 * The connection itself (reconnects, backoff, tokens, close codes, heartbeat) is
 * socket-link.ts; this is what rides on it.
 *
 * - Rejoins every room with `since` = the last message id it saw there, so the service
 *   replays what was missed; messages are deduplicated by (room, id).
 * - Sends carry a `client_id`; unacknowledged sends are retried after a reconnect, and
 *   the service stores a (user, room, client_id) once, so a retry never doubles a message.
 * - Refuses, before sending, a message the service would refuse (message-check.ts).
 * - Read markers are coalesced per room and typing is throttled (read-markers.ts,
 *   typing-throttle.ts); frame types it does not know are ignored.
 */

import { Emitter } from './emitter';
import { DEFAULT_CHAT_LIMITS } from './limits';
import { encodeClientFrame, FrameParseError, parseServerFrame, type ClientFrame, type ServerFrame } from './frames';
import { checkMessage, type MessageLimits } from './message-check';
import { newClientId, Outbox } from './outbox';
import { ReadMarkers } from './read-markers';
import { LOBBY } from './rooms';
import { SeenTracker } from './seen';
import { SocketLink } from './socket-link';
import {
  browserNetwork,
  type ChatSocketOptions,
  type ConnectionState,
  type PendingMessage,
  type SocketEvents,
  type WebSocketLike,
} from './socket-types';
import { TypingThrottle } from './typing-throttle';

export * from './socket-types';

export class ChatSocket {
  private readonly events = new Emitter<SocketEvents>();
  private readonly link: SocketLink;
  private readonly seen: SeenTracker;
  /** Rooms the caller wants, and whether the current connection has joined each. */
  private readonly rooms = new Map<string, { joined: boolean }>();
  private readonly outbox: Outbox;
  /** Rooms whose membership should end (`leave` with `forget`) once a connection can say so. */
  private readonly forgets = new Set<string>();
  private readonly reads: ReadMarkers;
  private readonly typingThrottle: TypingThrottle;
  private readonly limits: MessageLimits;
  private readonly newClientId: () => string;
  private readonly selfId: () => string | undefined;

  constructor(options: ChatSocketOptions) {
    // The contract's defaults unless the caller passes the service's (limits.ts, socketLimits).
    this.limits = {
      maxMessageChars: options.maxMessageChars ?? DEFAULT_CHAT_LIMITS.max_message_chars,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_CHAT_LIMITS.max_frame_bytes,
    };
    this.newClientId = options.newClientId ?? newClientId;
    this.selfId = options.selfId ?? (() => undefined);
    this.link = new SocketLink(
      {
        url: options.url.replace(/\/+$/, ''),
        auth: options.auth,
        createSocket: options.createSocket ?? ((url) => new WebSocket(url) as unknown as WebSocketLike),
        backoff: options.backoff ?? {},
        random: options.random ?? Math.random,
        network: options.network === undefined ? (browserNetwork ?? null) : options.network,
        pingIntervalMs: options.pingIntervalMs ?? 25_000,
        pongTimeoutMs: options.pongTimeoutMs ?? 10_000,
        connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
        stableAfterMs: options.stableAfterMs ?? 10_000,
      },
      {
        opened: () => this.onOpen(),
        frame: (data) => this.onFrame(data),
        lost: () => this.onLost(),
        state: (state) => this.events.emit('state', state),
      },
    );
    this.seen = new SeenTracker(options.maxIdsPerRoom ?? 2000);
    this.reads = new ReadMarkers({
      intervalMs: options.readIntervalMs ?? 500,
      // `read` needs the room joined on this connection (`not_joined` otherwise).
      write: (room, id) => this.isJoined(room) && this.write({ type: 'read', room, id }),
    });
    this.typingThrottle = new TypingThrottle(options.typingIntervalMs ?? DEFAULT_CHAT_LIMITS.typing_interval_ms);
    this.outbox = new Outbox({
      ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
      write: (room, message, clientId) =>
        this.link.isOpen && this.isJoined(room) && this.write({ type: 'message', room, message, client_id: clientId }),
      generation: () => this.link.generation,
      changed: (pending) => this.events.emit('pending', pending),
    });
  }

  // ---- public API ------------------------------------------------------------------

  on<K extends keyof SocketEvents>(event: K, fn: (payload: SocketEvents[K]) => void): () => void {
    return this.events.on(event, fn);
  }

  get state(): ConnectionState {
    return this.link.state;
  }

  /** When the next attempt starts (epoch ms), while `reconnecting`. */
  get nextRetryAt(): number | undefined {
    return this.link.nextRetryAt;
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
    this.link.connect();
  }

  /** Closes for good (until `connect()` again). Rooms and pending sends are kept. */
  close(): void {
    this.reads.flushAll();
    this.link.close();
  }

  /** Drops the connection and opens a new one now (e.g. to pick up a renamed token). */
  reconnect(): void {
    this.link.reconnect();
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
   * otherwise when the room is next joined; kept until the service echoes it. Throws
   * MessageRefused, and sends nothing, when the service would refuse the message: empty,
   * over `maxMessageChars`, holding U+0000, or a frame over `maxFrameBytes`.
   */
  send(room: string, message: string): string {
    const clientId = this.newClientId();
    const frame = encodeClientFrame({ type: 'message', room, message, client_id: clientId });
    checkMessage(message, frame, this.limits);
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

  private onOpen(): void {
    for (const state of this.rooms.values()) state.joined = false;
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
  }

  /** No ack can come on a lost connection; the sends are written again on the next. */
  private onLost(): void {
    for (const state of this.rooms.values()) state.joined = false;
    this.outbox.clearTimers();
  }

  // ---- frames ----------------------------------------------------------------------

  private onFrame(data: unknown): void {
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
        if (frame.user_id === this.selfId()) this.reads.known(frame.room, frame.id);
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
    return this.link.write(encodeClientFrame(frame));
  }

  private sinceOf(room: string): { since?: number } {
    const since = this.seen.since(room);
    return since === undefined ? {} : { since };
  }
}
