/**
 * Sends awaiting the service's echo. Each carries a `client_id`, so writing it again
 * after a reconnect never stores it twice; one not echoed within the ack timeout, or
 * refused by an error frame while in flight, is marked failed for a retry.
 */

import type { ErrorFrame, FrameErrorCode } from './frames';
import type { PendingMessage } from './socket-types';

/**
 * Whether an error frame of each code answers a message frame (and so fails what is in
 * flight). Every code of the schema is here, so a new one needs a decision to build.
 */
const ANSWERS_A_SEND: Record<FrameErrorCode, boolean> = {
  message_too_long: true,
  empty_message: true,
  rate_limited: true,
  unavailable: true,
  not_joined: true,
  // A message frame this client builds is JSON of the schema's shape, without U+0000
  // (ChatSocket.send refuses that), to a room it joined (a bad or forbidden room fails
  // the join instead): these answer other frames, a `read` past the newest id, say.
  invalid_json: false,
  invalid_request: false,
  invalid_room: false,
  forbidden: false,
};

const answersASend = (code: string): boolean => Object.hasOwn(ANSWERS_A_SEND, code) && ANSWERS_A_SEND[code as FrameErrorCode];

interface Outgoing extends PendingMessage {
  /** The connection generation it was last written on (0: not yet). */
  sentOn: number;
  ackTimer?: ReturnType<typeof setTimeout>;
}

/** A fresh `client_id`: at most 64 characters (`max_client_id_chars`), unique per send. */
export function newClientId(): string {
  const c = globalThis.crypto as Crypto | undefined;
  if (c?.randomUUID) return `c-${c.randomUUID()}`;
  return `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

export interface OutboxOptions {
  ackTimeoutMs: number;
  /** Writes the message frame when the room is joined on an open connection; false otherwise. */
  write(room: string, message: string, clientId: string): boolean;
  /** The current connection's generation. */
  generation(): number;
  /** The pending sends changed. */
  changed(pending: PendingMessage[]): void;
}

export class Outbox {
  private readonly items = new Map<string, Outgoing>();

  constructor(private readonly opts: OutboxOptions) {}

  /** Pending sends, oldest first (of one room, or all). */
  list(room?: string): PendingMessage[] {
    return [...this.items.values()]
      .filter((m) => room === undefined || m.room === room)
      .map(({ clientId, room: r, message, failed, error }) => ({ clientId, room: r, message, failed, error }));
  }

  add(clientId: string, room: string, message: string): void {
    const out: Outgoing = { clientId, room, message, failed: false, sentOn: 0 };
    this.items.set(clientId, out);
    this.transmit(out);
    this.emit();
  }

  retry(clientId: string): void {
    const out = this.items.get(clientId);
    if (!out) return;
    out.failed = false;
    out.error = undefined;
    out.sentOn = 0;
    this.transmit(out);
    this.emit();
  }

  /** Forgets one send (acknowledged by its echo, or discarded). */
  remove(clientId: string): void {
    const out = this.items.get(clientId);
    if (!out) return;
    clearTimeout(out.ackTimer);
    this.items.delete(clientId);
    this.emit();
  }

  /** The room was left: its sends go with it. */
  dropRoom(room: string): void {
    let changed = false;
    for (const [id, m] of this.items) {
      if (m.room !== room) continue;
      clearTimeout(m.ackTimer);
      this.items.delete(id);
      changed = true;
    }
    if (changed) this.emit();
  }

  /** A new connection: everything is written again once its room is joined. */
  connectionOpened(): void {
    for (const out of this.items.values()) out.sentOn = 0;
  }

  /** The room is joined on the current connection: write what it has not carried yet. */
  roomJoined(room: string): void {
    for (const out of this.items.values()) if (out.room === room && out.sentOn !== this.opts.generation()) this.transmit(out);
  }

  /** An error frame: when it answers a message frame, what is in flight on this connection failed. */
  errorFrame(frame: ErrorFrame): void {
    if (!answersASend(frame.code)) return;
    let changed = false;
    for (const out of this.items.values()) {
      if (out.sentOn === this.opts.generation() && !out.failed) {
        out.failed = true;
        out.error = frame;
        clearTimeout(out.ackTimer);
        changed = true;
      }
    }
    if (changed) this.emit();
  }

  /** The connection dropped: no ack can come on it, and the sends are written again on the next. */
  clearTimers(): void {
    for (const out of this.items.values()) clearTimeout(out.ackTimer);
  }

  private transmit(out: Outgoing): void {
    if (!this.opts.write(out.room, out.message, out.clientId)) return;
    out.sentOn = this.opts.generation();
    clearTimeout(out.ackTimer);
    out.ackTimer = setTimeout(() => {
      if (!this.items.has(out.clientId) || out.failed) return;
      out.failed = true;
      this.emit();
    }, this.opts.ackTimeoutMs);
  }

  private emit(): void {
    this.opts.changed(this.list());
  }
}
