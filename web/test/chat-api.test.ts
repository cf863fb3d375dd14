import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, ChatverifyClient, MemoryStore, parsePresence, parseRooms } from '../src/client';
import { msg, pair, scriptedFetch } from './helpers';

const noLock = <T>(_name: string, fn: () => Promise<T>) => fn();

async function signedIn(f: ReturnType<typeof scriptedFetch>) {
  const client = new ChatverifyClient({ verificationUrl: 'http://v', chatUrl: 'http://c', fetch: f.fetch, store: new MemoryStore(), lock: noLock });
  f.reply(200, pair(1));
  await client.confirm('ann@example.com', '123456');
  return client;
}

const DM = 'dm.00000000-0000-4000-8000-000000000001.00000000-0000-4000-8000-000000000002';

describe('rooms and presence over HTTP', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('GET /v1/rooms: the memberships with markers, counts and the last message (as the service writes it)', async () => {
    const f = scriptedFetch();
    const client = await signedIn(f);
    f.reply(200, {
      rooms: [
        { room: 'r', last_id: 130, read_id: 120, unread: 10, last_message: msg('r', 130) },
        { room: 'empty', last_id: 0, read_id: 0, unread: 0, last_message: null },
      ],
    });
    const rooms = await client.rooms();
    expect(f.requests[1]).toMatchObject({ url: 'http://c/v1/rooms', method: 'GET', headers: { Authorization: 'Bearer access-1' } });
    expect(rooms).toHaveLength(2);
    expect(rooms[0]).toMatchObject({ room: 'r', last_id: 130, read_id: 120, unread: 10, last_message: { id: 130, room: 'r', user: 'Ann' } });
    expect(rooms[1]!.last_message).toBeNull();
    client.dispose();
  });

  it('GET /v1/rooms/{room}/presence, the room name escaped in the path', async () => {
    const f = scriptedFetch();
    const client = await signedIn(f);
    f.reply(200, { users: [{ user_id: 'u1', user: 'Ann' }, { user_id: 'u2', user: 'Bob' }] });
    expect(await client.presence(DM)).toEqual([{ user_id: 'u1', user: 'Ann' }, { user_id: 'u2', user: 'Bob' }]);
    expect(f.requests[1]!.url).toBe(`http://c/v1/rooms/${encodeURIComponent(DM)}/presence`);
    f.reply(403, { error: { code: 'forbidden', message: 'not yours' } });
    await expect(client.presence(DM)).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    client.dispose();
  });

  it('a body of the wrong shape is bad_response', async () => {
    const f = scriptedFetch();
    const client = await signedIn(f);
    f.reply(200, { rooms: [{ room: 'r', last_id: '5', read_id: 0, unread: 0, last_message: null }] });
    const err = await client.rooms().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'bad_response', status: 200 });
    f.reply(200, { people: [] });
    await expect(client.presence('r')).rejects.toMatchObject({ code: 'bad_response' });
    client.dispose();
  });
});

describe('response parsers', () => {
  it('reject what the contract does not allow', () => {
    expect(() => parseRooms({})).toThrow('rooms');
    expect(() => parseRooms({ rooms: [{ room: 'r', last_id: 1, read_id: -1, unread: 0, last_message: null }] })).toThrow('non-negative');
    expect(() => parseRooms({ rooms: [{ room: 'r', last_id: 1, read_id: 0, unread: 0, last_message: { id: 1 } }] })).toThrow();
    expect(() => parsePresence({ users: [{ user_id: 'u' }] })).toThrow('user');
    expect(parseRooms({ rooms: [] })).toEqual([]);
  });
});
