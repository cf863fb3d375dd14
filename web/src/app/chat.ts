/**
 * The signed-in screen: the room list (the service's `GET /v1/rooms`, with unread counts
 * kept live), the open room's messages, composer, who is online and typing, profile and
 * connection state.
 *
 * Every listed room is joined on the one socket, so its badge follows new messages; only
 * the open room loads history. The open room is marked read up to the newest message in
 * view while the page is visible.
 */

import {
  ApiError,
  describeError,
  directPeer,
  isDirectRoom,
  LOBBY,
  socketLimits,
  type ChatMessage,
  type ChatSocket,
  type ChatverifyClient,
  type Limits,
  type ReadFrame,
} from '../client';
import { byId, h } from './dom';
import { wireComposer } from './composer';
import { connectionLabel, frameErrorText } from './format';
import { chatLayout } from './layout';
import { insertMessages, messageItems, newestVisibleId, unreadAfter, type Room } from './messages-view';
import { RoomActivity } from './room-activity';
import { recall, remember } from './remembered';
import { RoomList } from './room-list';
import { wireSidebarForms } from './sidebar-forms';
import { Toast } from './toast';

export interface ChatViewOptions {
  /** A signed-in client. When its session ends (`signed_out`), the owner destroys the view. */
  client: ChatverifyClient;
  /** Both services' `GET /v1/limits`, asked at start-up. */
  limits: Limits;
}

export class ChatView {
  private readonly client: ChatverifyClient;
  private readonly limits: Limits;
  /** Messages per history page: the service's default `limit`. */
  private readonly page: number;
  private readonly socket: ChatSocket;
  private readonly me: string;
  /** The rooms, their messages as far as loaded, and their unread counts. */
  private readonly list: RoomList;
  /** Display names seen per user id (to title direct rooms). */
  private readonly names = new Map<string, string>();
  private readonly activity: RoomActivity;
  private readonly toaster: Toast;
  private active = LOBBY;
  private readonly disposers: (() => void)[] = [];
  private readonly root: HTMLElement;
  private readonly el: {
    conn: HTMLElement;
    roomList: HTMLElement;
    roomTitle: HTMLElement;
    log: HTMLElement;
    list: HTMLElement;
    older: HTMLButtonElement;
    composer: HTMLFormElement;
    input: HTMLTextAreaElement;
    toast: HTMLElement;
    sidebar: HTMLElement;
    toggle: HTMLButtonElement;
    who: HTMLElement;
    nameInput: HTMLInputElement;
  };

  constructor(root: HTMLElement, options: ChatViewOptions) {
    this.root = root;
    this.client = options.client;
    this.limits = options.limits;
    this.page = this.limits.chat.history_limit.default;
    this.me = this.client.user?.id ?? '';
    this.socket = this.client.socket(socketLimits(this.limits.chat));
    root.replaceChildren(chatLayout(this.client.user, this.limits.verification));
    this.el = {
      conn: byId(root, 'conn'),
      roomList: byId(root, 'room-list'),
      roomTitle: byId(root, 'room-title'),
      log: byId(root, 'messages'),
      list: byId(root, 'message-list'),
      older: byId<HTMLButtonElement>(root, 'older'),
      composer: byId<HTMLFormElement>(root, 'composer'),
      input: byId<HTMLTextAreaElement>(root, 'message'),
      toast: byId(root, 'toast'),
      sidebar: byId(root, 'sidebar'),
      toggle: byId<HTMLButtonElement>(root, 'rooms-toggle'),
      who: byId(root, 'who'),
      nameInput: byId<HTMLInputElement>(root, 'display-name'),
    };
    this.activity = new RoomActivity(root, { client: this.client, me: this.me, names: this.names });
    this.toaster = new Toast(this.el.toast);
    this.list = new RoomList({
      client: this.client,
      socket: this.socket,
      me: this.me,
      names: this.names,
      list: this.el.roomList,
      joinLimit: this.limits.chat.max_rooms_per_socket,
      active: () => this.active,
      title: (name) => this.title(name),
      open: (name) => this.select(name),
      leave: (name) => this.dropRoom(name, true),
      removed: (name) => this.dropRoom(name, false),
      rendered: () => {
        this.el.roomTitle.textContent = this.title(this.active);
        this.el.input.placeholder = `Message ${this.title(this.active)}`;
      },
    });
    this.wire();
    const last = recall(this.activeKey());
    this.select(typeof last === 'string' && this.list.has(last) ? last : LOBBY);
    this.renderProfile();
    this.socket.connect();
    this.renderConnection();
    void this.list.refresh();
  }

  destroy(): void {
    this.list.destroy();
    for (const d of this.disposers) d();
    this.activity.destroy();
    this.toaster.dispose();
    this.socket.close();
    document.title = 'chatverify';
  }

  // ---- events ----------------------------------------------------------------------

  private wire(): void {
    const s = this.socket;
    this.disposers.push(
      s.on('state', (state) => {
        this.renderConnection();
        if (state === 'open') this.list.retry();
      }),
      s.on('message', (m) => this.onMessage(m)),
      s.on('pending', () => this.renderMessages('keep')),
      s.on('joined', (room) => {
        if (room === this.active) void this.activity.refreshPresence(room);
      }),
      s.on('read', (f) => this.onRead(f)),
      s.on('typing', (f) => this.activity.onTyping(f)),
      s.on('presence', (f) => this.activity.onPresence(f)),
      // A first direct message from someone: the service made us a member; list it.
      s.on('member', () => void this.list.refresh()),
      s.on('error', (frame) => {
        this.toast(frameErrorText(frame));
        if (frame.code === 'forbidden' || frame.code === 'invalid_room') this.renderMessages('keep');
      }),
      this.client.on('session', () => this.renderProfile()),
    );
    // Countdown in "Reconnecting in N s".
    const timer = setInterval(() => this.socket.state === 'reconnecting' && this.renderConnection(), 1000);
    this.disposers.push(() => clearInterval(timer));
    const visibility = () => {
      if (document.visibilityState === 'visible') {
        this.client.checkSession(); // timers sleep with the device
        this.markSeen(); // what arrived while hidden is read now
      } else {
        this.socket.flushReads(); // the page may not come back
      }
    };
    const online = () => this.client.checkSession();
    const pagehide = () => this.socket.flushReads();
    document.addEventListener('visibilitychange', visibility);
    globalThis.addEventListener('online', online);
    globalThis.addEventListener('pagehide', pagehide);
    this.disposers.push(() => {
      document.removeEventListener('visibilitychange', visibility);
      globalThis.removeEventListener('online', online);
      globalThis.removeEventListener('pagehide', pagehide);
    });

    byId(this.root, 'signout').addEventListener('click', async () => {
      this.socket.close();
      await this.client.logout(); // ends the session: the owner shows the sign-in form
    });
    this.el.toggle.addEventListener('click', () => this.setSidebar(this.el.toggle.getAttribute('aria-expanded') !== 'true'));
    wireSidebarForms(this.root, {
      client: this.client,
      limits: this.limits.verification,
      open: (room) => this.select(room),
      toast: (text, field) => this.toast(text, field),
      renamed: () => this.socket.reconnect(),
    });

    wireComposer({
      form: this.el.composer,
      input: this.el.input,
      socket: this.socket,
      room: () => this.active,
      toast: (text, field) => this.toast(text, field),
      sent: () => this.renderMessages('bottom'),
    });

    this.el.older.addEventListener('click', () => void this.loadOlder());
    this.el.log.addEventListener('scroll', () => {
      if (this.el.log.scrollTop < 80) void this.loadOlder();
      this.markSeen();
    }, { passive: true });
  }

  private onMessage(m: ChatMessage): void {
    const room = this.list.get(m.room);
    if (!room) return;
    this.names.set(m.user_id, m.user);
    if (!insertMessages(room, [m])) return;
    this.list.book.message(m, false); // counted; markSeen below settles the open room's count
    this.activity.onMessage(m);
    if (m.room === this.active) {
      this.renderMessages('follow');
      this.markSeen();
    }
    this.list.render();
  }

  /** A read marker moved: the user's own (another tab or device) clears the badge here too. */
  private onRead(f: ReadFrame): void {
    if (f.user_id !== this.me) return;
    const room = this.list.get(f.room);
    if (this.list.book.read(f.room, f.id, room && unreadAfter(room, f.id, this.me))) this.list.render();
  }

  // ---- rooms ------------------------------------------------------------------------

  /** Removes a room from the list; `forget` also ends the membership (the leave button). */
  private dropRoom(name: string, forget: boolean): void {
    if (name === LOBBY) return;
    this.list.remove(name);
    this.activity.forget(name);
    this.socket.leave(name, { forget });
    if (this.active === name) this.select(this.list.first());
    this.list.render();
  }

  private select(name: string): void {
    const room = this.list.opened(name);
    this.active = name;
    remember(this.activeKey(), name);
    if (!room.loaded && !room.loading) void this.loadRoom(room);
    this.setSidebar(false);
    this.list.render();
    this.renderMessages('bottom');
    this.activity.show(name);
    if (this.socket.isJoined(name)) void this.activity.refreshPresence(name);
    this.markSeen();
  }

  /** Newest page of history; a room not joined yet joins from its newest id, so nothing falls in between. */
  private async loadRoom(room: Room): Promise<void> {
    room.error = undefined;
    room.loading = true;
    try {
      const page = await this.client.history(room.name, { limit: this.page });
      if (this.list.get(room.name) !== room) return;
      for (const m of page) this.names.set(m.user_id, m.user);
      insertMessages(room, page);
      room.hasOlder = page.length === this.page;
      room.loaded = true;
      const newest = page.at(-1);
      if (newest) this.list.book.shown(newest);
      // A listed room is joined already, from its listed newest id: everything since arrives live.
      const joined = this.socket.joinedRooms.includes(room.name);
      this.socket.markSeen(room.name, page.map((m) => m.id));
      if (!joined) this.socket.join(room.name, { since: newest?.id ?? 0 });
    } catch (err) {
      if (this.list.get(room.name) !== room) return;
      if (err instanceof ApiError && (err.code === 'forbidden' || err.code === 'invalid_room')) {
        this.toast(describeError(err));
        this.dropRoom(room.name, false);
        return;
      }
      room.error = `History could not be loaded: ${describeError(err)}`;
      // Live messages still arrive; history is retried when the room is opened again.
      this.socket.join(room.name);
    } finally {
      room.loading = false;
    }
    if (room.name === this.active) {
      this.renderMessages('bottom');
      this.markSeen();
    }
  }

  private async loadOlder(): Promise<void> {
    const room = this.list.get(this.active);
    if (!room || !room.loaded || !room.hasOlder || room.loadingOlder) return;
    const oldest = room.messages[0]?.id;
    if (oldest === undefined) return;
    room.loadingOlder = true;
    this.el.older.textContent = 'Loading…';
    try {
      const page = await this.client.history(room.name, { before: oldest, limit: this.page });
      room.hasOlder = page.length === this.page;
      insertMessages(room, page);
      if (room.name === this.active) this.renderMessages('preserve');
    } catch (err) {
      this.toast(describeError(err));
    } finally {
      room.loadingOlder = false;
      if (room.name === this.active) this.renderOlderButton(room);
    }
  }

  /**
   * Marks the open room read up to the newest message in view, when the page is visible
   * (the socket coalesces the frames). The badge keeps counting what is below the view.
   */
  private markSeen(): void {
    if (document.visibilityState !== 'visible') return;
    const room = this.list.get(this.active);
    if (!room || !(room.loaded || room.error)) return;
    const id = newestVisibleId(this.el.log, this.el.list);
    if (id === undefined) return;
    this.socket.markRead(room.name, id);
    if (this.list.book.read(room.name, id, unreadAfter(room, id, this.me))) this.list.render();
  }

  private title(name: string): string {
    const peer = directPeer(name, this.me);
    if (peer) return `@${this.names.get(peer) ?? `${peer.slice(0, 8)}…`}`;
    if (isDirectRoom(name)) return 'direct room';
    return `#${name}`;
  }

  private setSidebar(open: boolean): void {
    this.el.toggle.setAttribute('aria-expanded', String(open));
    this.el.sidebar.classList.toggle('open', open);
  }

  // ---- rendering -------------------------------------------------------------------

  private renderConnection(): void {
    const state = this.socket.state;
    this.el.conn.textContent = connectionLabel(state, this.socket.nextRetryAt);
    this.el.conn.title = this.el.conn.textContent; // the pill may be cut short on a phone
    this.el.conn.dataset.state = state;
  }

  private renderProfile(): void {
    const user = this.client.user;
    if (!user) return;
    this.el.who.replaceChildren(h('strong', null, user.display_name), ` (${user.email})`);
    if (document.activeElement !== this.el.nameInput) this.el.nameInput.value = user.display_name;
  }

  private renderOlderButton(room: Room): void {
    this.el.older.hidden = !room.loaded || !room.hasOlder;
    this.el.older.textContent = room.loadingOlder ? 'Loading…' : 'Load older messages';
  }

  /**
   * Re-renders the active room. `bottom`: scroll to the newest; `follow`: stay at the bottom
   * if already there; `preserve`: keep the view still while older messages are prepended;
   * `keep`: leave the scroll position alone.
   */
  private renderMessages(scroll: 'bottom' | 'follow' | 'preserve' | 'keep'): void {
    const room = this.list.get(this.active);
    if (!room) return;
    const log = this.el.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const fromBottom = log.scrollHeight - log.scrollTop;
    this.el.list.replaceChildren(...messageItems(room, {
      me: this.me,
      myName: this.client.user?.display_name ?? 'You',
      title: this.title(room.name),
      pending: this.socket.pending(room.name),
      retry: (id) => this.socket.retry(id),
      discard: (id) => this.socket.discard(id),
    }));
    this.renderOlderButton(room);
    if (scroll === 'bottom' || (scroll === 'follow' && atBottom)) log.scrollTop = log.scrollHeight;
    else if (scroll === 'preserve') log.scrollTop = log.scrollHeight - fromBottom;
  }

  private toast(text: string, field?: HTMLElement): void {
    this.toaster.show(text, field);
  }

  /** The open room, remembered per user on this device. */
  private activeKey(): string {
    return `chatverify.active.${this.me}`;
  }
}
