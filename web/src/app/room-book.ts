/**
 * The room list's bookkeeping: which rooms, in which order (the newest message first,
 * as `GET /v1/rooms` orders them), and each one's unread count. The service's list is
 * the truth when it loads; live messages and reads keep it current in between.
 */

import type { ChatMessage, RoomSummary } from '../client';

export interface RoomEntry {
  name: string;
  /** The newest message id known (0: none). */
  lastId: number;
  /** The user's read marker as far as this page knows (stored, or sent and not yet confirmed). */
  readId: number;
  /** Unread messages by others as last counted by the service (or exactly, by `read`). */
  base: number;
  /** Ids of unread messages by others that arrived live after that count. */
  live: number[];
  /** Epoch ms of the newest message (0: none), for the order. */
  lastAt: number;
  /** Ties (rooms without messages) keep the service's order, then the order they were added in. */
  rank: number;
}

const LOCAL_RANK = 1_000_000;

function timeOf(m: ChatMessage | null | undefined): number {
  const t = m ? Date.parse(m.timestamp) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

export class RoomBook {
  private readonly rooms = new Map<string, RoomEntry>();
  private added = 0;

  /** @param me the signed-in user's id: their own messages are never unread */
  constructor(private readonly me: string) {}

  has(name: string): boolean {
    return this.rooms.has(name);
  }

  get(name: string): RoomEntry | undefined {
    return this.rooms.get(name);
  }

  /** Room names, the one with the newest message first. */
  names(): string[] {
    return [...this.rooms.values()].sort((a, b) => b.lastAt - a.lastAt || a.rank - b.rank).map((r) => r.name);
  }

  /** Adds a room this page opened (not yet in the service's list); returns its entry. */
  add(name: string): RoomEntry {
    let entry = this.rooms.get(name);
    if (!entry) {
      entry = { name, lastId: 0, readId: 0, base: 0, live: [], lastAt: 0, rank: LOCAL_RANK + this.added++ };
      this.rooms.set(name, entry);
    }
    return entry;
  }

  remove(name: string): void {
    this.rooms.delete(name);
  }

  /**
   * Takes in the service's list. A room's count is the service's plus the live messages
   * its snapshot had not seen yet; but when this page has read further than the snapshot
   * shows (a read not stored yet), the page's own count stands: it read the room while
   * joined, so every message since arrived live. Rooms the service does not list are
   * dropped unless `keep` says otherwise (e.g. just opened here).
   */
  applyServer(summaries: RoomSummary[], keep: (name: string) => boolean): { added: string[]; removed: string[] } {
    const added: string[] = [];
    const listed = new Set<string>();
    summaries.forEach((s, i) => {
      listed.add(s.room);
      const lastAt = timeOf(s.last_message);
      const entry = this.rooms.get(s.room);
      if (!entry) {
        this.rooms.set(s.room, { name: s.room, lastId: s.last_id, readId: s.read_id, base: s.unread, live: [], lastAt, rank: i });
        added.push(s.room);
        return;
      }
      entry.rank = i;
      if (s.read_id >= entry.readId) {
        entry.readId = s.read_id;
        entry.base = s.unread;
        entry.live = entry.live.filter((id) => id > s.last_id);
      }
      entry.lastId = Math.max(entry.lastId, s.last_id);
      entry.lastAt = Math.max(entry.lastAt, lastAt);
    });
    const removed: string[] = [];
    for (const name of this.rooms.keys()) {
      if (!listed.has(name) && !keep(name)) removed.push(name);
    }
    for (const name of removed) this.rooms.delete(name);
    return { added, removed };
  }

  /**
   * A new message arrived live. It counts as unread when someone else sent it after the
   * read marker and the user is not looking at it (`seen`: shown in the open room of a
   * visible page, which marks it read). Returns whether the count changed.
   */
  message(m: ChatMessage, seen: boolean): boolean {
    const entry = this.shown(m);
    if (!entry || seen || m.user_id === this.me || m.id <= entry.readId || entry.live.includes(m.id)) return false;
    entry.live.push(m.id);
    return true;
  }

  /** A message is known (e.g. the newest of a history page): it moves the room, counts nothing. */
  shown(m: ChatMessage): RoomEntry | undefined {
    const entry = this.rooms.get(m.room);
    if (!entry) return undefined;
    entry.lastId = Math.max(entry.lastId, m.id);
    entry.lastAt = Math.max(entry.lastAt, timeOf(m));
    return entry;
  }

  /**
   * The user read the room up to `id` (here, or on another tab). `unreadAfter`: the exact
   * count of others' messages after `id` when the caller has them all; without it, reading
   * up to the newest id clears the count and an older id leaves it (it cannot be known).
   * Returns whether the count changed.
   */
  read(name: string, id: number, unreadAfter?: number): boolean {
    const entry = this.rooms.get(name);
    if (!entry || id < entry.readId) return false;
    const before = countOf(entry);
    entry.readId = id;
    entry.lastId = Math.max(entry.lastId, id);
    entry.live = entry.live.filter((x) => x > id);
    if (unreadAfter !== undefined) entry.base = Math.max(0, unreadAfter - entry.live.length);
    else if (id >= entry.lastId) entry.base = 0;
    return countOf(entry) !== before;
  }

  unread(name: string): number {
    const entry = this.rooms.get(name);
    return entry ? countOf(entry) : 0;
  }

  totalUnread(): number {
    let n = 0;
    for (const r of this.rooms.values()) n += countOf(r);
    return n;
  }
}

function countOf(r: RoomEntry): number {
  return r.base + r.live.length;
}

/** A badge's text: the service counts exactly up to 999. */
export function unreadLabel(n: number): string {
  return n > 999 ? '999+' : String(n);
}
