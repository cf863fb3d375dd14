/** The open room's live lines: who is online in it, and who is typing. */

import type { ChatMessage, ChatverifyClient, PresenceFrame, TypingFrame } from '../client';
import { byId, h } from './dom';
import { PresenceBook } from './presence-book';
import { TypingBook, typingText } from './typing-book';

export interface RoomActivityOptions {
  client: ChatverifyClient;
  /** The signed-in user's id. */
  me: string;
  /** Display names seen, by user id (this fills it in too). */
  names: Map<string, string>;
}

export class RoomActivity {
  private readonly presence = new PresenceBook();
  private readonly typers: TypingBook;
  private readonly online: HTMLElement;
  private readonly onlineList: HTMLElement;
  private readonly typingLine: HTMLElement;
  private room = '';
  private expiry: ReturnType<typeof setTimeout> | undefined;

  constructor(
    root: HTMLElement,
    private readonly o: RoomActivityOptions,
  ) {
    this.typers = new TypingBook(o.me);
    this.online = byId(root, 'online');
    this.onlineList = byId(root, 'online-list');
    this.typingLine = byId(root, 'typing');
  }

  /** Another room is open now. */
  show(room: string): void {
    this.room = room;
    this.renderPresence();
    this.renderTyping();
  }

  /**
   * Fetches who is online in the room: when it is opened and each time the socket
   * (re)joins it, since presence events missed while disconnected are gone.
   */
  async refreshPresence(room: string): Promise<void> {
    const ticket = this.presence.begin(room);
    try {
      const users = await this.o.client.presence(room);
      for (const u of users) this.o.names.set(u.user_id, u.user);
      if (this.presence.settle(room, ticket, users) && room === this.room) this.renderPresence();
    } catch {
      // Events still keep the list current; the next join fetches it again.
      this.presence.abandon(room, ticket);
    }
  }

  onPresence(f: PresenceFrame): void {
    this.o.names.set(f.user_id, f.user);
    this.presence.event(f);
    if (f.room === this.room) this.renderPresence();
  }

  onTyping(f: TypingFrame): void {
    this.o.names.set(f.user_id, f.user);
    if (this.typers.typing(f) && f.room === this.room) this.renderTyping();
  }

  /** A message ends its sender's "typing". */
  onMessage(m: ChatMessage): void {
    if (this.typers.stopped(m.room, m.user_id) && m.room === this.room) this.renderTyping();
  }

  forget(room: string): void {
    this.presence.forget(room);
  }

  destroy(): void {
    clearTimeout(this.expiry);
  }

  private renderPresence(): void {
    const users = this.presence.users(this.room);
    this.online.hidden = users.length === 0;
    this.onlineList.replaceChildren(
      ...users.map((u) => h('li', { 'data-user': u.user_id }, u.user_id === this.o.me ? `${u.user} (you)` : u.user)),
    );
  }

  private renderTyping(): void {
    clearTimeout(this.expiry);
    this.typingLine.textContent = typingText(this.typers.names(this.room));
    const next = this.typers.nextExpiry(this.room);
    if (next !== undefined) this.expiry = setTimeout(() => this.renderTyping(), Math.max(0, next - Date.now()) + 20);
  }
}
