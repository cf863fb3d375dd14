/** The HTTP side of the contract: verification, tokens, account, history, rooms, presence. */

import { backoffDelay } from './backoff';
import { Emitter } from './emitter';
import { ApiError } from './errors';
import { requestJson, type RequestOptions } from './http';
import { chatLimitsFrom, verificationLimitsFrom } from './limits';
import { parseHistory, parsePresence, parseRooms } from './responses';
import { ChatSocket, type ChatSocketOptions, type SocketAuth } from './socket';
import {
  browserLock,
  MemoryStore,
  needsRefresh,
  refreshDelayMs,
  sessionFromPair,
  type LockFn,
  type SessionStore,
  type StoredSession,
} from './session';
import type { ChatLimits, ChatMessage, HistoryQuery, PresentUser, RoomSummary } from './types';
import type { SendCodeResult, TokenPair, User, VerificationLimits } from './types';

export interface ClientOptions {
  /** Base URL of the verification service, e.g. `http://127.0.0.1:8081`. */
  verificationUrl: string;
  /** Base URL of the chat service (http/https; the socket uses ws/wss), e.g. `http://127.0.0.1:8082`. */
  chatUrl: string;
  /** Keeps the session across page loads; in memory when omitted. */
  store?: SessionStore;
  fetch?: typeof fetch;
  /** Cross-tab lock around refreshes; the Web Locks API when present. */
  lock?: LockFn;
  /** Per-request time limit, ms (default 15 000). */
  requestTimeoutMs?: number;
  now?: () => number;
  random?: () => number;
}

/** Why a session ended: the person signed out, the login expired or was refused, or it was revoked. */
export type SignOutReason = 'logout' | 'expired' | 'revoked';

export interface ClientEvents extends Record<string, unknown> {
  /** The session changed: signed in, refreshed, renamed, or null when it ended. */
  session: StoredSession | null;
  signed_out: SignOutReason;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');
const roomPath = (room: string) => `/v1/rooms/${encodeURIComponent(room)}`;

/** A 200 answer whose body is not the contract's shape is `bad_response`. */
function checked<T>(parse: (body: unknown) => T, body: unknown, what: string): T {
  try {
    return parse(body);
  } catch (err) {
    throw new ApiError('bad_response', `bad ${what}: ${(err as Error).message}`, 200, undefined, { cause: err });
  }
}

export class ChatverifyClient {
  readonly verificationUrl: string;
  readonly chatUrl: string;
  private readonly events = new Emitter<ClientEvents>();
  private readonly store: SessionStore;
  private readonly fetchFn: typeof fetch;
  private readonly lock: LockFn;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private current: StoredSession | null;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<StoredSession> | null = null;
  private scheduledFailures = 0;

  constructor(options: ClientOptions) {
    this.verificationUrl = trimSlash(options.verificationUrl);
    this.chatUrl = trimSlash(options.chatUrl);
    this.store = options.store ?? new MemoryStore();
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.lock = options.lock ?? browserLock;
    this.timeoutMs = options.requestTimeoutMs ?? 15_000;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.current = this.store.load();
    this.scheduleRefresh();
  }

  // ---- session ---------------------------------------------------------------------

  get session(): StoredSession | null {
    return this.current;
  }

  get user(): User | null {
    return this.current?.user ?? null;
  }

  get signedIn(): boolean {
    return this.current !== null;
  }

  on<K extends keyof ClientEvents>(event: K, fn: (payload: ClientEvents[K]) => void): () => void {
    return this.events.on(event, fn);
  }

  private setSession(session: StoredSession): void {
    this.current = session;
    this.store.save(session);
    this.scheduledFailures = 0;
    this.scheduleRefresh();
    this.events.emit('session', session);
  }

  /** Forgets the session on this device (no request). The socket calls it on close code 4003. */
  endSession(reason: SignOutReason): void {
    if (!this.current) return;
    this.current = null;
    this.store.save(null);
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    this.events.emit('session', null);
    this.events.emit('signed_out', reason);
  }

  /** Stops the refresh timer (the session stays stored). */
  dispose(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  /**
   * Arms the timer that refreshes the access token shortly before it expires
   * (see refreshDelayMs). A failed refresh that may succeed later (network, 5xx, 429)
   * is retried with backoff; a refused one ends the session.
   */
  private scheduleRefresh(delay?: number): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    if (!this.current) return;
    const ms = delay ?? refreshDelayMs(this.current, this.now());
    // setTimeout holds at most 2^31-1 ms; longer waits re-arm when they fire.
    this.refreshTimer = setTimeout(() => this.onRefreshTimer(), Math.min(ms, 2 ** 31 - 1));
  }

  private onRefreshTimer(): void {
    this.refreshTimer = undefined;
    const session = this.current;
    if (!session) return;
    if (!needsRefresh(session, this.now())) {
      this.scheduleRefresh();
      return;
    }
    this.refresh().catch((err: unknown) => {
      if (!this.current) return; // refused: the session already ended
      const retryAfterMs = err instanceof ApiError && err.retryAfter !== undefined ? err.retryAfter * 1000 : 0;
      const delay = Math.max(retryAfterMs, backoffDelay(this.scheduledFailures++, { baseMs: 1_000, maxMs: 60_000 }, this.random));
      this.scheduleRefresh(delay);
    });
  }

  /**
   * Checks the token now (after the device slept, or came back online): refreshes when
   * it is due. Timers in background tabs and sleeping laptops fire late.
   */
  checkSession(): void {
    if (this.current && needsRefresh(this.current, this.now()) && !this.refreshing) this.onRefreshTimer();
  }

  /**
   * Rotates the token pair now. Concurrent calls share one request; across tabs, a tab
   * that finds a newer pair already stored adopts it instead of reusing a rotated token.
   * A `401` ends the session (`signed_out: 'expired'`).
   */
  refresh(): Promise<StoredSession> {
    if (this.refreshing) return this.refreshing;
    const run = async (): Promise<StoredSession> => {
      const mine = this.current;
      if (!mine) throw new ApiError('signed_out', 'not signed in', 401);
      const stored = this.store.load();
      const base = stored && stored.user.id === mine.user.id ? stored : mine;
      if (base.refreshToken !== mine.refreshToken && !needsRefresh(base, this.now())) {
        this.setSession(base); // another tab already rotated it
        return base;
      }
      let pair: TokenPair;
      try {
        pair = await this.request<TokenPair>(this.verificationUrl, '/v1/token/refresh', {
          method: 'POST',
          body: { refresh_token: base.refreshToken },
        });
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) this.endSession('expired');
        throw err;
      }
      if (!this.current || this.current.user.id !== mine.user.id) {
        throw new ApiError('signed_out', 'signed out during the refresh', 401);
      }
      const next = sessionFromPair(pair, this.now());
      this.setSession(next);
      return next;
    };
    const p = this.lock('chatverify-refresh', run).finally(() => {
      if (this.refreshing === p) this.refreshing = null;
    });
    this.refreshing = p;
    return p;
  }

  /**
   * A usable access token: refreshed first when due. If the refresh fails for a reason
   * that may pass (network) while the token is still valid, the current one is returned.
   */
  async accessToken(): Promise<string> {
    const session = this.current;
    if (!session) throw new ApiError('signed_out', 'not signed in', 401);
    if (!needsRefresh(session, this.now())) return session.accessToken;
    try {
      return (await this.refresh()).accessToken;
    } catch (err) {
      const still = this.current;
      if (still && err instanceof ApiError && err.retryable && still.expiresAt > this.now()) return still.accessToken;
      throw err;
    }
  }

  // ---- verification ----------------------------------------------------------------

  /** Mails a code (`code_length` digits). Errors: `invalid_email`, `rate_limited` (with retryAfter). */
  sendCode(email: string): Promise<SendCodeResult> {
    return this.request<SendCodeResult>(this.verificationUrl, '/v1/verification/send', {
      method: 'POST',
      body: { email },
    });
  }

  /**
   * Confirms the code and signs in. Errors: `invalid_code` (wrong, expired or never
   * sent: the service does not say which), `too_many_attempts`.
   */
  async confirm(email: string, code: string): Promise<TokenPair> {
    const pair = await this.request<TokenPair>(this.verificationUrl, '/v1/verification/confirm', {
      method: 'POST',
      body: { email, code },
    });
    this.setSession(sessionFromPair(pair, this.now()));
    return pair;
  }

  /**
   * Revokes this login everywhere (its sockets close with 4003) and forgets it here.
   * The session ends on this device even when the service cannot be reached.
   */
  async logout(): Promise<void> {
    const session = this.current;
    if (!session) return;
    try {
      await this.authed<void>(this.verificationUrl, '/v1/logout', {
        method: 'POST',
        body: { refresh_token: this.current?.refreshToken ?? session.refreshToken },
      });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    } finally {
      this.endSession('logout');
    }
  }

  // ---- limits ----------------------------------------------------------------------

  /**
   * Chat's `GET /v1/limits` (no token): message size, rates, rooms per socket, history
   * page sizes. A field an older service does not send keeps the contract's default.
   */
  async chatLimits(options: { timeoutMs?: number } = {}): Promise<ChatLimits> {
    return chatLimitsFrom(await this.request<unknown>(this.chatUrl, '/v1/limits', {}, options.timeoutMs));
  }

  /** Verification's `GET /v1/limits` (no token): code length and lifetime, display-name bounds. */
  async verificationLimits(options: { timeoutMs?: number } = {}): Promise<VerificationLimits> {
    return verificationLimitsFrom(await this.request<unknown>(this.verificationUrl, '/v1/limits', {}, options.timeoutMs));
  }

  // ---- account ---------------------------------------------------------------------

  async me(): Promise<User> {
    const user = await this.authed<User>(this.verificationUrl, '/v1/me');
    this.updateUser(user);
    return user;
  }

  /**
   * Sets the display name (`display_name_min_chars`..`display_name_max_chars` of
   * `verificationLimits()`), then refreshes the token pair so that
   * new tokens, and sockets opened with them, carry the new name.
   */
  async updateMe(displayName: string): Promise<User> {
    const user = await this.authed<User>(this.verificationUrl, '/v1/me', {
      method: 'PATCH',
      body: { display_name: displayName },
    });
    this.updateUser(user);
    try {
      await this.refresh();
    } catch {
      // the name is saved; the scheduled refresh will pick it up
    }
    return user;
  }

  private updateUser(user: User): void {
    const session = this.current;
    if (!session || session.user.id !== user.id) return;
    this.setSession({ ...session, user });
  }

  // ---- chat ------------------------------------------------------------------------

  /** Messages of a room, oldest first. Errors: `invalid_room`, `forbidden`, `invalid_request`. */
  async history(room: string, query: HistoryQuery = {}): Promise<ChatMessage[]> {
    const params = new URLSearchParams();
    if (query.before !== undefined) params.set('before', String(query.before));
    if (query.after !== undefined) params.set('after', String(query.after));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    const qs = params.toString();
    const body = await this.authed<unknown>(this.chatUrl, `${roomPath(room)}/messages${qs ? `?${qs}` : ''}`);
    return checked(parseHistory, body, 'history');
  }

  /** The caller's rooms with read markers and unread counts, the room with the newest message first. */
  async rooms(): Promise<RoomSummary[]> {
    return checked(parseRooms, await this.authed<unknown>(this.chatUrl, '/v1/rooms'), 'room list');
  }

  /** Who has a socket joined to the room now. Errors: `invalid_room`, `forbidden` (as history). */
  async presence(room: string): Promise<PresentUser[]> {
    return checked(parsePresence, await this.authed<unknown>(this.chatUrl, `${roomPath(room)}/presence`), 'presence');
  }

  /** The WebSocket URL base (`ws://…`/`wss://…`) of the chat service. */
  get socketUrl(): string {
    return this.chatUrl.replace(/^http(s?):/i, 'ws$1:');
  }

  /** What a ChatSocket needs from the session. */
  socketAuth(): SocketAuth {
    return {
      token: () => this.accessToken(),
      refresh: async () => {
        await this.refresh();
      },
      verify: async () => {
        try {
          await this.me();
          return 'ok';
        } catch (err) {
          return this.current ? 'unknown' : 'signed_out';
        }
      },
      revoked: () => this.endSession('revoked'),
    };
  }

  /** A chat socket using this session's tokens (not connected until `connect()`). */
  socket(options: Partial<Omit<ChatSocketOptions, 'url' | 'auth'>> = {}): ChatSocket {
    return new ChatSocket({
      random: this.random,
      selfId: () => this.current?.user.id,
      ...options,
      url: this.socketUrl,
      auth: this.socketAuth(),
    });
  }

  // ---- transport -------------------------------------------------------------------

  /** A request with the bearer token; on `401` it refreshes once and tries again. */
  private async authed<T>(base: string, path: string, options: RequestOptions = {}): Promise<T> {
    const token = await this.accessToken();
    try {
      return await this.request<T>(base, path, { ...options, token });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401 || !this.current) throw err;
      const fresh = await this.refresh();
      return this.request<T>(base, path, { ...options, token: fresh.accessToken });
    }
  }

  private request<T>(base: string, path: string, options: RequestOptions = {}, timeoutMs = this.timeoutMs): Promise<T> {
    return requestJson<T>({ fetch: this.fetchFn, timeoutMs, now: this.now }, base, path, options);
  }
}
