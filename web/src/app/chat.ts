/** The signed-in screen: rooms, messages, composer, profile, connection state. */

import {
  ApiError,
  describeError,
  directPeer,
  directRoom,
  isDirectRoom,
  isUuid,
  LOBBY,
  normalizeRoomInput,
  type ChatMessage,
  type ChatSocket,
  type ChatverifyClient,
  type PendingMessage,
} from '../client';
import { byId, clear, h } from './dom';
import { connectionLabel, frameErrorText, fullTime, shortTime } from './format';

const PAGE = 50;
const MAX_MESSAGE_CHARS = 4000;

interface Room {
  name: string;
  /** Sorted by id, no duplicates. */
  messages: ChatMessage[];
  ids: Set<number>;
  hasOlder: boolean;
  loadingOlder: boolean;
  loaded: boolean;
  unread: number;
  error?: string;
}

export interface ChatViewOptions {
  /** A signed-in client. When its session ends (`signed_out`), the owner destroys the view. */
  client: ChatverifyClient;
}

export class ChatView {
  private readonly client: ChatverifyClient;
  private readonly socket: ChatSocket;
  private readonly rooms = new Map<string, Room>();
  /** Display names seen per user id (to title direct rooms). */
  private readonly names = new Map<string, string>();
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
    this.socket = this.client.socket();
    root.replaceChildren(this.layout());
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
    this.wire();
    const saved = this.loadRoomList();
    for (const name of saved) this.addRoom(name);
    this.select(saved.includes(this.active) ? this.active : (saved[0] ?? LOBBY));
    this.renderProfile();
    this.socket.connect();
    this.renderConnection();
  }

  destroy(): void {
    for (const d of this.disposers) d();
    this.socket.close();
  }

  // ---- layout ----------------------------------------------------------------------

  private layout(): HTMLElement {
    const user = this.client.user;
    return h('div', { class: 'app' },
      h('header', { class: 'topbar' },
        h('button', { id: 'rooms-toggle', class: 'rooms-toggle', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'sidebar' }, 'Rooms'),
        h('h1', { class: 'brand' }, 'chatverify'),
        h('span', { id: 'conn', class: 'conn', role: 'status', 'aria-live': 'polite', 'aria-label': 'Connection' }, 'Not connected'),
        h('button', { id: 'signout', type: 'button' }, 'Sign out'),
      ),
      h('div', { class: 'layout' },
        h('aside', { id: 'sidebar', class: 'sidebar', 'aria-label': 'Rooms and profile' },
          h('nav', { 'aria-label': 'Your rooms' },
            h('h2', { class: 'section-title' }, 'Rooms'),
            h('ul', { id: 'room-list', class: 'room-list' }),
          ),
          h('form', { id: 'join-form', class: 'stack', novalidate: true },
            h('label', { for: 'join-room' }, 'Room name'),
            h('div', { class: 'row' },
              h('input', { id: 'join-room', name: 'room', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', maxlength: 64, placeholder: 'e.g. general', 'aria-describedby': 'join-help' }),
              h('button', { type: 'submit' }, 'Join'),
            ),
            h('p', { id: 'join-help', class: 'help' }, 'Lower-case letters, digits, - and _.'),
          ),
          h('form', { id: 'dm-form', class: 'stack', novalidate: true },
            h('label', { for: 'dm-user' }, 'Direct message: user id'),
            h('div', { class: 'row' },
              h('input', { id: 'dm-user', name: 'user', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', placeholder: 'their user id (UUID)' }),
              h('button', { type: 'submit' }, 'Message'),
            ),
          ),
          h('section', { class: 'profile stack', 'aria-labelledby': 'profile-title' },
            h('h2', { id: 'profile-title', class: 'section-title' }, 'You'),
            h('p', { id: 'who' }),
            h('p', { class: 'help' }, 'Your user id (others start a direct message with it): ',
              h('code', { id: 'my-id' }, user?.id ?? ''), ' ',
              h('button', { id: 'copy-id', type: 'button', class: 'link', 'aria-label': 'Copy your user id' }, 'Copy')),
            h('form', { id: 'name-form', class: 'stack', novalidate: true },
              h('label', { for: 'display-name' }, 'Display name'),
              h('div', { class: 'row' },
                h('input', { id: 'display-name', name: 'display_name', maxlength: 32, autocomplete: 'nickname' }),
                h('button', { type: 'submit' }, 'Save'),
              ),
            ),
          ),
        ),
        h('main', { class: 'room', 'aria-labelledby': 'room-title' },
          h('h2', { id: 'room-title', class: 'room-title' }, '#lobby'),
          h('div', { id: 'messages', class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: 0, 'aria-labelledby': 'room-title' },
            h('button', { id: 'older', type: 'button', class: 'older link' }, 'Load older messages'),
            h('ol', { id: 'message-list', class: 'message-list' }),
          ),
          h('form', { id: 'composer', class: 'composer', novalidate: true },
            h('label', { for: 'message', class: 'visually-hidden' }, 'Message'),
            h('textarea', { id: 'message', name: 'message', rows: 1, placeholder: 'Write a message', 'aria-describedby': 'composer-help' }),
            h('button', { type: 'submit', class: 'primary' }, 'Send'),
            h('p', { id: 'composer-help', class: 'visually-hidden' }, 'Enter sends, Shift+Enter starts a new line.'),
          ),
        ),
      ),
      h('div', { id: 'toast', class: 'toast', role: 'alert', 'aria-live': 'assertive', hidden: true }),
    );
  }

  private wire(): void {
    const root = this.root;
    const s = this.socket;
    this.disposers.push(
      s.on('state', () => this.renderConnection()),
      s.on('message', (m) => this.onMessage(m)),
      s.on('pending', () => this.renderMessages('keep')),
      s.on('error', (frame) => {
        this.toast(frameErrorText(frame));
        if (frame.code === 'forbidden' || frame.code === 'invalid_room') this.renderMessages('keep');
      }),
      this.client.on('session', () => this.renderProfile()),
    );
    // Countdown in "Reconnecting in N s".
    const timer = setInterval(() => this.socket.state === 'reconnecting' && this.renderConnection(), 1000);
    this.disposers.push(() => clearInterval(timer));
    // Timers sleep with the device: check the token when the page is back.
    const wake = () => {
      if (document.visibilityState === 'visible') this.client.checkSession();
    };
    document.addEventListener('visibilitychange', wake);
    globalThis.addEventListener('online', wake);
    this.disposers.push(() => {
      document.removeEventListener('visibilitychange', wake);
      globalThis.removeEventListener('online', wake);
    });

    byId(root, 'signout').addEventListener('click', async () => {
      this.socket.close();
      await this.client.logout(); // ends the session: the owner shows the sign-in form
    });

    this.el.toggle.addEventListener('click', () => this.setSidebar(this.el.toggle.getAttribute('aria-expanded') !== 'true'));

    byId<HTMLFormElement>(root, 'join-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = byId<HTMLInputElement>(root, 'join-room');
      const name = normalizeRoomInput(input.value);
      if (!name) {
        this.toast(describeError(new ApiError('invalid_room', 'invalid room', 400)), input);
        input.focus();
        return;
      }
      input.value = '';
      this.addRoom(name);
      this.select(name);
    });

    byId<HTMLFormElement>(root, 'dm-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = byId<HTMLInputElement>(root, 'dm-user');
      const me = this.client.user?.id;
      const other = input.value.trim().toLowerCase();
      if (!me || !isUuid(other)) {
        this.toast('Enter the other person’s user id: a UUID like 0b6f2c1e-…', input);
        input.focus();
        return;
      }
      if (other === me) {
        this.toast('That is your own user id. Enter someone else’s.', input);
        input.focus();
        return;
      }
      input.value = '';
      const room = directRoom(me, other);
      this.addRoom(room);
      this.select(room);
    });

    byId(root, 'copy-id').addEventListener('click', async () => {
      const id = this.client.user?.id ?? '';
      try {
        await navigator.clipboard.writeText(id);
        this.toast('User id copied.');
      } catch {
        this.toast(`Your user id: ${id}`);
      }
    });

    byId<HTMLFormElement>(root, 'name-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const name = this.el.nameInput.value.trim();
      if (name.length < 1 || [...name].length > 32) {
        this.toast('A display name is 1 to 32 characters.', this.el.nameInput);
        return;
      }
      try {
        await this.client.updateMe(name);
        // New messages carry the name of the token the socket connected with.
        this.socket.reconnect();
        this.toast('Display name saved.');
      } catch (err) {
        this.toast(describeError(err), this.el.nameInput);
      }
    });

    this.el.composer.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.sendCurrent();
    });
    this.el.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.sendCurrent();
      }
    });
    this.el.input.addEventListener('input', () => this.autosize());

    this.el.older.addEventListener('click', () => void this.loadOlder());
    this.el.log.addEventListener('scroll', () => {
      if (this.el.log.scrollTop < 80) void this.loadOlder();
    }, { passive: true });
  }

  // ---- rooms -----------------------------------------------------------------------

  private storageKey(): string {
    return `chatverify.rooms.${this.client.user?.id ?? 'anon'}`;
  }

  private loadRoomList(): string[] {
    try {
      const raw = localStorage.getItem(this.storageKey());
      const list: unknown = raw ? JSON.parse(raw) : null;
      if (Array.isArray(list) && list.every((r) => typeof r === 'string') && list.length > 0) return list as string[];
    } catch {
      // fall through
    }
    return [LOBBY];
  }

  private saveRoomList(): void {
    try {
      localStorage.setItem(this.storageKey(), JSON.stringify([...this.rooms.keys()]));
    } catch {
      // not fatal
    }
  }

  private addRoom(name: string): Room {
    let room = this.rooms.get(name);
    if (room) return room;
    room = { name, messages: [], ids: new Set(), hasOlder: false, loadingOlder: false, loaded: false, unread: 0 };
    this.rooms.set(name, room);
    this.saveRoomList();
    void this.loadRoom(room);
    this.renderRooms();
    return room;
  }

  private removeRoom(name: string): void {
    this.rooms.delete(name);
    this.socket.leave(name);
    this.saveRoomList();
    if (this.active === name) this.select(this.rooms.keys().next().value ?? LOBBY);
    if (this.rooms.size === 0) this.addRoom(LOBBY);
    this.renderRooms();
  }

  /** Newest page of history, then join with `since` = its last id, so nothing falls in between. */
  private async loadRoom(room: Room): Promise<void> {
    room.error = undefined;
    try {
      const page = await this.client.history(room.name, { limit: PAGE });
      if (this.rooms.get(room.name) !== room) return;
      this.insert(room, page);
      room.hasOlder = page.length === PAGE;
      room.loaded = true;
      this.socket.markSeen(room.name, page.map((m) => m.id));
      this.socket.join(room.name, { since: page.at(-1)?.id ?? 0 });
    } catch (err) {
      if (this.rooms.get(room.name) !== room) return;
      if (err instanceof ApiError && (err.code === 'forbidden' || err.code === 'invalid_room')) {
        this.toast(describeError(err));
        this.removeRoom(room.name);
        return;
      }
      room.error = `History could not be loaded: ${describeError(err)}`;
      // Live messages still arrive; history is retried when the room is opened again.
      this.socket.join(room.name);
    }
    if (room.name === this.active) this.renderMessages('bottom');
  }

  private async loadOlder(): Promise<void> {
    const room = this.rooms.get(this.active);
    if (!room || !room.loaded || !room.hasOlder || room.loadingOlder) return;
    const oldest = room.messages[0]?.id;
    if (oldest === undefined) return;
    room.loadingOlder = true;
    this.el.older.textContent = 'Loading…';
    try {
      const page = await this.client.history(room.name, { before: oldest, limit: PAGE });
      room.hasOlder = page.length === PAGE;
      this.insert(room, page);
      if (room.name === this.active) this.renderMessages('preserve');
    } catch (err) {
      this.toast(describeError(err));
    } finally {
      room.loadingOlder = false;
      if (room.name === this.active) this.renderOlderButton(room);
    }
  }

  private insert(room: Room, messages: ChatMessage[]): number {
    let added = 0;
    for (const m of messages) {
      this.names.set(m.user_id, m.user);
      if (room.ids.has(m.id)) continue;
      room.ids.add(m.id);
      room.messages.push(m);
      added++;
    }
    if (added) room.messages.sort((a, b) => a.id - b.id);
    return added;
  }

  private onMessage(m: ChatMessage): void {
    const room = this.rooms.get(m.room);
    if (!room) return;
    if (!this.insert(room, [m])) return;
    if (m.room === this.active) {
      this.renderMessages('follow');
    } else if (m.user_id !== this.client.user?.id) {
      room.unread++;
      this.renderRooms();
    }
    if (isDirectRoom(m.room)) this.renderRooms();
  }

  private select(name: string): void {
    const room = this.rooms.get(name) ?? this.addRoom(name);
    this.active = name;
    room.unread = 0;
    if (!room.loaded && room.error) void this.loadRoom(room);
    this.setSidebar(false);
    this.renderRooms();
    this.renderMessages('bottom');
    this.el.input.placeholder = `Message ${this.title(name)}`;
  }

  private title(name: string): string {
    const me = this.client.user?.id ?? '';
    const peer = directPeer(name, me);
    if (peer) return `@${this.names.get(peer) ?? `${peer.slice(0, 8)}…`}`;
    if (isDirectRoom(name)) return 'direct room';
    return `#${name}`;
  }

  private setSidebar(open: boolean): void {
    this.el.toggle.setAttribute('aria-expanded', String(open));
    this.el.sidebar.classList.toggle('open', open);
  }

  // ---- sending ---------------------------------------------------------------------

  private sendCurrent(): void {
    const text = this.el.input.value;
    if (text.trim() === '') return;
    if ([...text].length > MAX_MESSAGE_CHARS) {
      this.toast(`A message is at most ${MAX_MESSAGE_CHARS} characters.`, this.el.input);
      return;
    }
    this.socket.send(this.active, text);
    this.el.input.value = '';
    this.autosize();
    this.renderMessages('bottom');
  }

  private autosize(): void {
    const t = this.el.input;
    t.style.height = 'auto';
    t.style.height = `${Math.min(t.scrollHeight, 160)}px`;
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

  private renderRooms(): void {
    const list = this.el.roomList;
    clear(list);
    for (const room of this.rooms.values()) {
      const current = room.name === this.active;
      const label = this.title(room.name);
      list.append(h('li', { class: current ? 'current' : null },
        h('button', {
          type: 'button', class: 'room-button', 'aria-current': current ? 'page' : null,
          onclick: () => this.select(room.name), title: room.name,
        },
          h('span', { class: 'room-name' }, label),
          room.unread > 0 ? h('span', { class: 'unread', 'aria-label': `${room.unread} unread` }, String(room.unread)) : null,
        ),
        h('button', { type: 'button', class: 'leave', 'aria-label': `Leave ${label}`, title: 'Leave', onclick: () => this.removeRoom(room.name) }, '×'),
      ));
    }
    this.el.roomTitle.textContent = this.title(this.active);
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
    const room = this.rooms.get(this.active);
    if (!room) return;
    const log = this.el.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const fromBottom = log.scrollHeight - log.scrollTop;
    const me = this.client.user?.id;
    const items: HTMLElement[] = [];
    if (room.error) items.push(h('li', { class: 'notice' }, room.error));
    if (room.loaded && room.messages.length === 0) items.push(h('li', { class: 'notice' }, `No messages in ${this.title(room.name)} yet. Say hello!`));
    for (const m of room.messages) {
      items.push(h('li', { class: m.user_id === me ? 'msg mine' : 'msg', 'data-id': m.id },
        h('div', { class: 'meta' },
          h('span', { class: 'sender' }, m.user),
          h('time', { datetime: m.timestamp, title: fullTime(m.timestamp) }, shortTime(m.timestamp)),
        ),
        h('p', { class: 'body' }, m.message),
      ));
    }
    for (const p of this.socket.pending(room.name)) items.push(this.pendingItem(p));
    this.el.list.replaceChildren(...items);
    this.renderOlderButton(room);
    if (scroll === 'bottom' || (scroll === 'follow' && atBottom)) log.scrollTop = log.scrollHeight;
    else if (scroll === 'preserve') log.scrollTop = log.scrollHeight - fromBottom;
  }

  private pendingItem(p: PendingMessage): HTMLElement {
    return h('li', { class: p.failed ? 'msg mine pending failed' : 'msg mine pending' },
      h('div', { class: 'meta' },
        h('span', { class: 'sender' }, this.client.user?.display_name ?? 'You'),
        h('span', { class: 'status' }, p.failed ? 'Not sent' : 'Sending…'),
      ),
      h('p', { class: 'body' }, p.message),
      p.failed
        ? h('div', { class: 'row' },
            h('button', { type: 'button', class: 'link', onclick: () => this.socket.retry(p.clientId) }, 'Retry'),
            h('button', { type: 'button', class: 'link', onclick: () => this.socket.discard(p.clientId) }, 'Discard'))
        : null,
    );
  }

  private toastTimer: ReturnType<typeof setTimeout> | undefined;

  private toast(text: string, field?: HTMLElement): void {
    const t = this.el.toast;
    t.textContent = text;
    t.hidden = false;
    if (field) field.setAttribute('aria-invalid', 'true');
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => {
      t.hidden = true;
      field?.removeAttribute('aria-invalid');
    }, 6000);
  }
}
