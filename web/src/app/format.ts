import type { ConnectionState, ErrorFrame } from '../client';

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/** Short time for a message: `14:05` today, `Mar 3, 14:05` before. */
export function shortTime(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay ? timeFmt.format(d) : dateTimeFmt.format(d);
}

export function fullTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : fullFmt.format(d);
}

export function connectionLabel(state: ConnectionState, retryAt?: number, now = Date.now()): string {
  switch (state) {
    case 'idle':
      return 'Not connected';
    case 'connecting':
      return 'Connecting…';
    case 'open':
      return 'Connected';
    case 'reconnecting': {
      const s = retryAt ? Math.max(0, Math.ceil((retryAt - now) / 1000)) : 0;
      return s > 0 ? `Reconnecting in ${s} s…` : 'Reconnecting…';
    }
    case 'offline':
      return 'Offline: waiting for the network';
    case 'signed_out':
      return 'Signed out';
    case 'closed':
      return 'Disconnected';
  }
}

export function frameErrorText(frame: ErrorFrame): string {
  switch (frame.code) {
    case 'rate_limited':
      return 'You are sending messages too fast. Wait a moment and retry.';
    case 'message_too_long':
      return 'That message is too long.';
    case 'empty_message':
      return 'A message cannot be empty.';
    case 'forbidden':
      return 'You are not allowed in that room.';
    case 'invalid_room':
      return 'That room name is not valid.';
    case 'not_joined':
      return 'You are not in that room any more.';
    case 'unavailable':
      return 'The message could not be stored right now. Retry it.';
    default:
      return frame.message || frame.code;
  }
}
