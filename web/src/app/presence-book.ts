/**
 * Who is online per room: the presence route's list, kept current by `presence` events.
 * Events that arrive while the list is being fetched are applied again on top of the
 * answer, in order, so neither an older snapshot nor an earlier event wins wrongly.
 */

import type { PresenceFrame, PresentUser } from '../client';

export class PresenceBook {
  private readonly rooms = new Map<string, Map<string, string>>();
  /** Per room: the latest fetch's ticket and the events seen since it started. */
  private readonly fetching = new Map<string, { ticket: number; events: PresenceFrame[] }>();
  private tickets = 0;

  /** A fetch of the room's list starts; pass the ticket to `settle`. */
  begin(room: string): number {
    const ticket = ++this.tickets;
    this.fetching.set(room, { ticket, events: [] });
    return ticket;
  }

  /** The fetch answered. A stale answer (a newer fetch started since) is ignored. */
  settle(room: string, ticket: number, users: PresentUser[]): boolean {
    const f = this.fetching.get(room);
    if (!f || f.ticket !== ticket) return false;
    this.fetching.delete(room);
    const map = new Map(users.map((u) => [u.user_id, u.user] as const));
    this.rooms.set(room, map);
    for (const e of f.events) this.apply(map, e);
    return true;
  }

  /** The fetch failed: events keep the list as it was. */
  abandon(room: string, ticket: number): void {
    if (this.fetching.get(room)?.ticket === ticket) this.fetching.delete(room);
  }

  event(e: PresenceFrame): void {
    this.fetching.get(e.room)?.events.push(e);
    let map = this.rooms.get(e.room);
    if (!map) {
      map = new Map();
      this.rooms.set(e.room, map);
    }
    this.apply(map, e);
  }

  /** The room's online users, by name. */
  users(room: string): PresentUser[] {
    return [...(this.rooms.get(room) ?? new Map<string, string>())]
      .map(([user_id, user]) => ({ user_id, user }))
      .sort((a, b) => a.user.localeCompare(b.user) || a.user_id.localeCompare(b.user_id));
  }

  forget(room: string): void {
    this.rooms.delete(room);
    this.fetching.delete(room);
  }

  private apply(map: Map<string, string>, e: PresenceFrame): void {
    if (e.online) map.set(e.user_id, e.user);
    else map.delete(e.user_id);
  }
}
