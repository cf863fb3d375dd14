/** The sidebar's room list: one button per room with its unread badge, and a leave button. */

import { clear, h } from './dom';
import { unreadLabel } from './room-book';

export interface RoomListItem {
  name: string;
  /** What a person reads: `#general`, `@Ann`. */
  label: string;
  unread: number;
  current: boolean;
  /** The lobby cannot be left: every connection joins it. */
  leavable: boolean;
}

export interface RoomListActions {
  open(name: string): void;
  leave(name: string): void;
}

export function renderRoomList(list: HTMLElement, items: RoomListItem[], actions: RoomListActions): void {
  clear(list);
  for (const item of items) {
    list.append(h('li', { class: item.current ? 'current' : null, 'data-room': item.name },
      h('button', {
        type: 'button', class: 'room-button', 'aria-current': item.current ? 'page' : null,
        onclick: () => actions.open(item.name), title: item.name,
      },
        h('span', { class: 'room-name' }, item.label),
        item.unread > 0 ? h('span', { class: 'unread', 'aria-label': `${item.unread} unread` }, unreadLabel(item.unread)) : null,
      ),
      item.leavable
        ? h('button', { type: 'button', class: 'leave', 'aria-label': `Leave ${item.label}`, title: 'Leave', onclick: () => actions.leave(item.name) }, '×')
        : null,
    ));
  }
}
