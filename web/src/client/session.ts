/** The signed-in session: where it is kept, and when its access token is refreshed. */

import type { TokenPair, User } from './types';

export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the access token expires (by this device's clock). */
  expiresAt: number;
  /** The access token's lifetime in seconds as issued (`expires_in`). */
  expiresIn: number;
  user: User;
}

/** Where a session lives between page loads. */
export interface SessionStore {
  load(): StoredSession | null;
  save(session: StoredSession | null): void;
}

export class MemoryStore implements SessionStore {
  private value: StoredSession | null = null;
  constructor(initial: StoredSession | null = null) {
    this.value = initial;
  }
  load(): StoredSession | null {
    return this.value;
  }
  save(session: StoredSession | null): void {
    this.value = session;
  }
}

function isStoredSession(v: unknown): v is StoredSession {
  const s = v as StoredSession | null;
  return (
    typeof s === 'object' && s !== null &&
    typeof s.accessToken === 'string' && typeof s.refreshToken === 'string' &&
    typeof s.expiresAt === 'number' && typeof s.expiresIn === 'number' &&
    typeof s.user === 'object' && s.user !== null && typeof s.user.id === 'string'
  );
}

/** A `Storage` (localStorage by default) under one key; unreadable content counts as signed out. */
export class WebStorageStore implements SessionStore {
  constructor(private readonly key = 'chatverify.session', private readonly storage: Storage = globalThis.localStorage) {}
  load(): StoredSession | null {
    try {
      const raw = this.storage.getItem(this.key);
      if (!raw) return null;
      const parsed: unknown = JSON.parse(raw);
      return isStoredSession(parsed) ? parsed : null;
    } catch {
      return null;
    }
  }
  save(session: StoredSession | null): void {
    try {
      if (session) this.storage.setItem(this.key, JSON.stringify(session));
      else this.storage.removeItem(this.key);
    } catch {
      // storage full or disabled: the session still lives in memory
    }
  }
}

export function sessionFromPair(pair: TokenPair, now: number = Date.now()): StoredSession {
  return {
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    expiresAt: now + pair.expires_in * 1000,
    expiresIn: pair.expires_in,
    user: pair.user,
  };
}

/**
 * How long before expiry to refresh: a tenth of the lifetime, at least 5 s and at most
 * 60 s, and never more than half the lifetime (900 s tokens refresh at 840 s).
 */
export function refreshMarginMs(expiresInSec: number): number {
  const lifetime = Math.max(0, expiresInSec) * 1000;
  const margin = Math.min(60_000, Math.max(5_000, lifetime * 0.1));
  return Math.min(margin, lifetime / 2);
}

/** Milliseconds from `now` until the session's access token should be refreshed (0 = now). */
export function refreshDelayMs(session: Pick<StoredSession, 'expiresAt' | 'expiresIn'>, now: number = Date.now()): number {
  return Math.max(0, session.expiresAt - refreshMarginMs(session.expiresIn) - now);
}

/** True when the access token is expired or inside its refresh margin. */
export function needsRefresh(session: Pick<StoredSession, 'expiresAt' | 'expiresIn'>, now: number = Date.now()): boolean {
  return refreshDelayMs(session, now) === 0;
}

/**
 * Runs `fn` holding a lock shared by the tabs of this origin (Web Locks API), so two tabs
 * sharing one stored session never present the same refresh token twice: the service
 * treats a second use as theft and revokes the login. Without the API, runs `fn` as is.
 */
export type LockFn = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

export const browserLock: LockFn = async (name, fn) => {
  const locks = (globalThis.navigator as (Navigator & { locks?: LockManager }) | undefined)?.locks;
  if (!locks) return fn();
  return locks.request(name, fn) as Promise<Awaited<ReturnType<typeof fn>>>;
};
