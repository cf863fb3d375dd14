/** A room's messages: what is loaded of it, and how its list items look. */

import type { ChatMessage, PendingMessage } from '../client';
import { h } from './dom';
import { fullTime, shortTime } from './format';

export interface Room {
  name: string;
  /** Sorted by id, no duplicates. */
  messages: ChatMessage[];
  ids: Set<number>;
  hasOlder: boolean;
  loadingOlder: boolean;
  /** The newest page of history is in. */
  loaded: boolean;
  loading: boolean;
  error?: string;
}

export function newRoom(name: string): Room {
  return { name, messages: [], ids: new Set(), hasOlder: false, loadingOlder: false, loaded: false, loading: false };
}

/** Adds messages not there yet, keeping the id order; returns how many were new. */
export function insertMessages(room: Room, messages: ChatMessage[]): number {
  let added = 0;
  for (const m of messages) {
    if (room.ids.has(m.id)) continue;
    room.ids.add(m.id);
    room.messages.push(m);
    added++;
  }
  if (added) room.messages.sort((a, b) => a.id - b.id);
  return added;
}

/** Messages by others after `id`, when the room holds every message after it (else undefined). */
export function unreadAfter(room: Room, id: number, me: string): number | undefined {
  const oldest = room.messages[0];
  if (!room.loaded || !oldest || oldest.id > id) return undefined;
  return room.messages.filter((m) => m.id > id && m.user_id !== me).length;
}

export interface MessageListOptions {
  me: string | undefined;
  myName: string;
  /** The room as a person reads it, for the empty notice. */
  title: string;
  pending: PendingMessage[];
  retry(clientId: string): void;
  discard(clientId: string): void;
}

export function messageItems(room: Room, o: MessageListOptions): HTMLElement[] {
  const items: HTMLElement[] = [];
  if (room.error) items.push(h('li', { class: 'notice' }, room.error));
  if (room.loaded && room.messages.length === 0) items.push(h('li', { class: 'notice' }, `No messages in ${o.title} yet. Say hello!`));
  for (const m of room.messages) {
    items.push(h('li', { class: m.user_id === o.me ? 'msg mine' : 'msg', 'data-id': m.id },
      h('div', { class: 'meta' },
        h('span', { class: 'sender' }, m.user),
        h('time', { datetime: m.timestamp, title: fullTime(m.timestamp) }, shortTime(m.timestamp)),
      ),
      h('p', { class: 'body' }, m.message),
    ));
  }
  for (const p of o.pending) items.push(pendingItem(p, o));
  return items;
}

function pendingItem(p: PendingMessage, o: MessageListOptions): HTMLElement {
  return h('li', { class: p.failed ? 'msg mine pending failed' : 'msg mine pending' },
    h('div', { class: 'meta' },
      h('span', { class: 'sender' }, o.myName),
      h('span', { class: 'status' }, p.failed ? 'Not sent' : 'Sending…'),
    ),
    h('p', { class: 'body' }, p.message),
    p.failed
      ? h('div', { class: 'row' },
          h('button', { type: 'button', class: 'link', onclick: () => o.retry(p.clientId) }, 'Retry'),
          h('button', { type: 'button', class: 'link', onclick: () => o.discard(p.clientId) }, 'Discard'))
      : null,
  );
}

/** The id of the newest message the person can see in the scrolled log, if any. */
export function newestVisibleId(log: HTMLElement, list: HTMLElement): number | undefined {
  const bottom = log.getBoundingClientRect().bottom;
  const items = list.querySelectorAll<HTMLElement>('li.msg[data-id]');
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    if (item.getBoundingClientRect().top < bottom) return Number(item.dataset.id);
  }
  return undefined;
}
