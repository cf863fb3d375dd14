import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ChatverifyClient,
  MemoryStore,
  needsRefresh,
  refreshDelayMs,
  refreshMarginMs,
  sessionFromPair,
  type StoredSession,
} from '../src/client';
import { pair, scriptedFetch } from './helpers';

const noLock = <T>(_name: string, fn: () => Promise<T>) => fn();

describe('refresh timing', () => {
  it('refreshes a minute early for the default 900 s token', () => {
    expect(refreshMarginMs(900)).toBe(60_000);
    const s = sessionFromPair(pair(1, 900), 0);
    expect(s.expiresAt).toBe(900_000);
    expect(refreshDelayMs(s, 0)).toBe(840_000);
  });

  it('uses a tenth of short lifetimes, at least 5 s, never more than half', () => {
    expect(refreshMarginMs(120)).toBe(12_000);
    expect(refreshMarginMs(30)).toBe(5_000);
    expect(refreshMarginMs(6)).toBe(3_000);
    expect(refreshMarginMs(0)).toBe(0);
  });

  it('is due at once for an expired token', () => {
    const s = sessionFromPair(pair(1, 900), 0);
    expect(refreshDelayMs(s, 2_000_000)).toBe(0);
    expect(needsRefresh(s, 839_999)).toBe(false);
    expect(needsRefresh(s, 840_000)).toBe(true);
  });
});

describe('ChatverifyClient refresh scheduling', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
  });
  afterEach(() => vi.useRealTimers());

  const signedIn = async (f: ReturnType<typeof scriptedFetch>, store = new MemoryStore(), expiresIn = 900) => {
    const client = new ChatverifyClient({ verificationUrl: 'http://v', chatUrl: 'http://c', fetch: f.fetch, store, lock: noLock, random: () => 0 });
    f.reply(200, pair(1, expiresIn));
    await client.confirm('ann@example.com', '123456');
    return client;
  };

  it('refreshes shortly before expiry, with the current refresh token, and keeps doing so', async () => {
    const f = scriptedFetch();
    const client = await signedIn(f);
    f.reply(200, pair(2));
    await vi.advanceTimersByTimeAsync(839_000);
    expect(f.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(f.requests).toHaveLength(2);
    expect(f.requests[1]).toMatchObject({ url: 'http://v/v1/token/refresh', method: 'POST', body: { refresh_token: 'refresh-1' } });
    expect(client.session?.accessToken).toBe('access-2');
    f.reply(200, pair(3));
    await vi.advanceTimersByTimeAsync(840_000);
    expect(f.requests[2]!.body).toEqual({ refresh_token: 'refresh-2' });
    expect(client.session?.refreshToken).toBe('refresh-3');
    client.dispose();
  });

  it('retries a refresh that failed on the network, with growing delays', async () => {
    const f = scriptedFetch();
    const client = await signedIn(f);
    f.fail();
    f.fail();
    f.reply(200, pair(2));
    await vi.advanceTimersByTimeAsync(840_000);
    expect(f.requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(499); // backoff(0) with random 0 = 500 ms
    expect(f.requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(f.requests).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1_000); // backoff(1) = 1000 ms
    expect(f.requests).toHaveLength(4);
    expect(client.session?.accessToken).toBe('access-2');
    client.dispose();
  });

  it('ends the session when the refresh is refused (401)', async () => {
    const f = scriptedFetch();
    const client = await signedIn(f);
    const ended: string[] = [];
    client.on('signed_out', (r) => ended.push(r));
    f.reply(401, { error: { code: 'invalid_token', message: 'reused' } });
    await vi.advanceTimersByTimeAsync(840_000);
    expect(client.signedIn).toBe(false);
    expect(ended).toEqual(['expired']);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(f.requests).toHaveLength(2);
  });

  it('shares one request between concurrent refreshes', async () => {
    const f = scriptedFetch();
    const client = await signedIn(f);
    f.reply(200, pair(2));
    const [x, y] = await Promise.all([client.refresh(), client.refresh()]);
    expect(x).toBe(y);
    expect(f.requests).toHaveLength(2);
    client.dispose();
  });

  it('adopts a pair another tab already rotated instead of reusing the old refresh token', async () => {
    const f = scriptedFetch();
    const store = new MemoryStore();
    const client = await signedIn(f, store);
    await vi.advanceTimersByTimeAsync(800_000);
    const other: StoredSession = sessionFromPair(pair(7), Date.now());
    store.save(other); // the other tab refreshed and saved
    await vi.advanceTimersByTimeAsync(40_000);
    expect(f.requests).toHaveLength(1); // no request: reused the stored pair
    expect(client.session?.refreshToken).toBe('refresh-7');
    client.dispose();
  });

  it('refreshes with the token another tab stored when that one is due too', async () => {
    const f = scriptedFetch();
    const store = new MemoryStore();
    const client = await signedIn(f, store);
    store.save(sessionFromPair(pair(7), Date.now()));
    f.reply(200, pair(8));
    await vi.advanceTimersByTimeAsync(840_000);
    expect(f.requests[1]!.body).toEqual({ refresh_token: 'refresh-7' });
    expect(client.session?.refreshToken).toBe('refresh-8');
    client.dispose();
  });

  it('refreshes an expired stored session before using it, then calls with the new token', async () => {
    const f = scriptedFetch();
    const store = new MemoryStore({ ...sessionFromPair(pair(1), -1_000_000) });
    f.reply(200, pair(2));
    f.reply(200, { id: 'x', email: 'ann@example.com', display_name: 'Ann' });
    const client = new ChatverifyClient({ verificationUrl: 'http://v', chatUrl: 'http://c', fetch: f.fetch, store, lock: noLock });
    await vi.advanceTimersByTimeAsync(0);
    await client.me();
    expect(f.requests.map((r) => r.url)).toEqual(['http://v/v1/token/refresh', 'http://v/v1/me']);
    expect(f.requests[1]!.headers.Authorization).toBe('Bearer access-2');
    client.dispose();
  });

  it('retries an authorized call once after a 401 with a refreshed token', async () => {
    const f = scriptedFetch();
    const client = await signedIn(f);
    f.reply(401, { error: { code: 'invalid_token', message: 'expired' } });
    f.reply(200, pair(2));
    f.reply(200, { messages: [{ id: 3, room: 'r', user: 'A', user_id: 'u', message: 'x', timestamp: 't' }] });
    const messages = await client.history('r', { before: 10, limit: 20 });
    expect(messages.map((m) => m.id)).toEqual([3]);
    expect(f.requests[1]!.url).toBe('http://c/v1/rooms/r/messages?before=10&limit=20');
    expect(f.requests[3]!.headers.Authorization).toBe('Bearer access-2');
    client.dispose();
  });

  it('logout sends the bearer and refresh token and forgets the session even if the call fails', async () => {
    const f = scriptedFetch();
    const store = new MemoryStore();
    const client = await signedIn(f, store);
    f.fail();
    await client.logout();
    expect(f.requests[1]).toMatchObject({ url: 'http://v/v1/logout', body: { refresh_token: 'refresh-1' } });
    expect(f.requests[1]!.headers.Authorization).toBe('Bearer access-1');
    expect(client.signedIn).toBe(false);
    expect(store.load()).toBeNull();
  });

  it('updateMe saves the name, then refreshes so tokens carry it', async () => {
    const f = scriptedFetch();
    const client = await signedIn(f);
    f.reply(200, { id: pair(1).user.id, email: 'ann@example.com', display_name: 'Ann B' });
    f.reply(200, { ...pair(2), user: { ...pair(2).user, display_name: 'Ann B' } });
    await client.updateMe('Ann B');
    expect(f.requests[1]).toMatchObject({ method: 'PATCH', url: 'http://v/v1/me', body: { display_name: 'Ann B' } });
    expect(f.requests[2]!.url).toBe('http://v/v1/token/refresh');
    expect(client.user?.display_name).toBe('Ann B');
    client.dispose();
  });
});
