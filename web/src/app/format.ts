import { isKnownFrameErrorCode, type ConnectionState, type ErrorFrame, type FrameErrorCode, type MessageRefused } from '../client';

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

/**
 * One text per code of the frames schema's ErrorCode: a code added there breaks the
 * build here until it is worded. Undefined: the service's own message says it best.
 */
const FRAME_ERROR_TEXT: Record<FrameErrorCode, string | undefined> = {
  rate_limited: 'You are sending messages too fast. Wait a moment and retry.',
  message_too_long: 'That message is too long.',
  empty_message: 'A message cannot be empty.',
  forbidden: 'You are not allowed in that room.',
  invalid_room: 'That room name is not valid.',
  not_joined: 'You are not in that room any more.',
  unavailable: 'The message could not be stored right now. Retry it.',
  invalid_json: undefined,
  invalid_request: undefined,
};

export function frameErrorText(frame: ErrorFrame): string {
  const text = isKnownFrameErrorCode(frame.code) ? FRAME_ERROR_TEXT[frame.code] : undefined;
  return text ?? (frame.message || frame.code);
}

/** Why a message was not sent (ChatSocket.send checks it against the service's limits). */
export function refusalText(err: MessageRefused): string {
  switch (err.code) {
    case 'message_too_long':
      return `A message is at most ${err.limit ?? '?'} characters.`;
    case 'frame_too_large':
      return 'That message is too large to send.';
    case 'empty_message':
      return 'A message cannot be empty.';
    case 'invalid_request':
      return 'That message holds a character that cannot be sent (U+0000).';
  }
}
