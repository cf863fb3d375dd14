/**
 * The user's rooms: the service's `GET /v1/rooms` (at start, and again when a `member`
 * event says a first direct message made the user a member somewhere), each room's
 * messages as far as loaded, and the sidebar list with unread badges. Every listed room
 * is joined on the socket from its listed newest id, so its badge follows new messages.
 */

import { ApiError, LOBBY, type ChatSocket, type ChatverifyClient, type RoomSummary } from '../client';
import { newRoom, type Room } from './messages-view';
import { recall, remember } from './remembered';
import { RoomBook, unreadLabel } from './room-book';
import { renderRoomList } from './room-list-view';

/** After a failed fetch, ms (it is also tried again when the socket reconnects). */
const RETRY_MS = 5_000;

export interface RoomListOptions {
  client: ChatverifyClient;
  socket: ChatSocket;
  me: string;
  /** Display names seen, by user id (this fills it in from last messages). */
  names: Map<string, string>;
  /** The `<ul>` to render into. */
  list: HTMLElement;
  /**
   * Rooms joined for live badges, the newest first: chat's `max_rooms_per_socket` (more
   * is refused with an error frame). A room past it still shows its listed count and is
   * joined when opened.
   */
  joinLimit: number;
  active(): string;
  title(name: string): string;
  /** A room was clicked. */
  open(name: string): void;
  /** Its leave button was clicked. */
  leave(name: string): void;
  /** The service no longer lists the room (left on another device). */
  removed(name: string): void;
  /** The list was drawn again (names may have become known since). */
  rendered(): void;
}

export class RoomList {
  /** Which rooms, their order and unread counts. */
  readonly book: RoomBook;
  private readonly rooms = new Map<string, Room>();
  /** Rooms opened on this page that the service may not list yet (memberships are written as rooms are joined). */
  private readonly openedHere = new Set<string>();
  private fetching = false;
  private again = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private destroyed = false;
  private savedJson = '';
  /** The service's list has been applied at least once. */
  listed = false;

  constructor(private readonly o: RoomListOptions) {
    this.book = new RoomBook(o.me);
    // First paint from the list this device showed last; rooms are joined once their
    // history or the service's list says from which id.
    const saved = recall(this.key());
    const names = Array.isArray(saved) ? saved.filter((r): r is string => typeof r === 'string') : [];
    for (const name of [LOBBY, ...names]) this.ensure(name);
  }

  get(name: string): Room | undefined {
    return this.rooms.get(name);
  }

  has(name: string): boolean {
    return this.rooms.has(name);
  }

  /** The room's state, added to the list when new. */
  ensure(name: string): Room {
    let room = this.rooms.get(name);
    if (!room) {
      room = newRoom(name);
      this.rooms.set(name, room);
      this.book.add(name);
    }
    return room;
  }

  /** The person opened the room: kept until the service lists it, even if its list lags the join. */
  opened(name: string): Room {
    this.openedHere.add(name);
    return this.ensure(name);
  }

  remove(name: string): void {
    this.rooms.delete(name);
    this.book.remove(name);
    this.openedHere.delete(name);
  }

  /** The first room in the list's order. */
  first(): string {
    return this.book.names()[0] ?? LOBBY;
  }

  /** Fetches the service's list; calls while one runs make it fetch once more after. */
  async refresh(): Promise<void> {
    if (this.fetching) {
      this.again = true;
      return;
    }
    this.fetching = true;
    clearTimeout(this.retryTimer);
    try {
      do {
        this.again = false;
        const list = await this.o.client.rooms();
        if (this.destroyed) return;
        this.apply(list);
      } while (this.again);
    } catch (err) {
      if (this.destroyed || !(err instanceof ApiError) || !this.o.client.signedIn) return;
      this.retryTimer = setTimeout(() => void this.refresh(), RETRY_MS);
    } finally {
      this.fetching = false;
    }
  }

  /** After a failed first fetch: try again now (the socket is back), unless one is running. */
  retry(): void {
    if (!this.listed && !this.fetching) void this.refresh();
  }

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.retryTimer);
  }

  render(): void {
    const names = this.book.names();
    const active = this.o.active();
    renderRoomList(
      this.o.list,
      names.map((name) => ({
        name,
        label: this.o.title(name),
        unread: this.book.unread(name),
        current: name === active,
        leavable: name !== LOBBY, // every connection joins the lobby again
      })),
      { open: this.o.open, leave: this.o.leave },
    );
    const total = this.book.totalUnread();
    document.title = total > 0 ? `(${unreadLabel(total)}) chatverify` : 'chatverify';
    const json = JSON.stringify(names);
    if (json !== this.savedJson) remember(this.key(), names);
    this.savedJson = json;
    this.o.rendered();
  }

  private apply(list: RoomSummary[]): void {
    const { socket, names } = this.o;
    for (const s of list) {
      if (s.last_message) names.set(s.last_message.user_id, s.last_message.user);
      socket.knownRead(s.room, s.read_id);
    }
    const keep = (name: string) => name === LOBBY || this.openedHere.has(name);
    const { removed } = this.book.applyServer(list, keep);
    for (const name of removed) this.o.removed(name);
    for (const s of list) {
      this.ensure(s.room);
      this.openedHere.delete(s.room);
      // Replay from the listed newest id: what came after the list was made is counted live.
      if (socket.lastSeen(s.room) === undefined && socket.joinedRooms.length < this.o.joinLimit) socket.join(s.room, { since: s.last_id });
    }
    this.listed = true;
    this.o.list.dataset.loaded = 'true';
    this.render();
  }

  private key(): string {
    return `chatverify.rooms.${this.o.me}`;
  }
}
