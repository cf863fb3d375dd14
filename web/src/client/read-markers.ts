/**
 * Read markers, coalesced: a client that marks every message it shows as read sends at
 * most one `read` frame per room every `intervalMs`, carrying the highest id seen, and
 * never one at or below what the service already has (its marker never moves back, so
 * such a frame would be wasted). The first mark after a quiet spell goes out at once.
 */

export interface ReadMarkerOptions {
  /**
   * Writes one `read` frame. Returns false when it cannot go out now (the room is not
   * joined on an open connection): the id is kept until `resume(room)`.
   */
  write(room: string, id: number): boolean;
  /** Least time between two frames of one room, ms (default 500). */
  intervalMs?: number;
  now?: () => number;
}

interface RoomMarker {
  /** The highest id the service has or was sent: nothing at or below it goes out. */
  sent: number;
  /** A higher id waiting for its turn (or for the room to be joined). */
  pending?: number;
  lastWriteAt: number;
  timer?: ReturnType<typeof setTimeout>;
}

export class ReadMarkers {
  private readonly rooms = new Map<string, RoomMarker>();
  private readonly write: (room: string, id: number) => boolean;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(options: ReadMarkerOptions) {
    this.write = options.write;
    this.intervalMs = options.intervalMs ?? 500;
    this.now = options.now ?? Date.now;
  }

  /** The user has seen the room up to `id`. */
  mark(room: string, id: number): void {
    const r = this.marker(room);
    if (id <= r.sent || (r.pending !== undefined && id <= r.pending)) return;
    r.pending = id;
    this.schedule(room, r);
  }

  /**
   * The service already has the marker at `id` (from `GET /v1/rooms`, or a `read` frame of
   * the user's other socket): what waits at or below it is dropped.
   */
  known(room: string, id: number): void {
    const r = this.marker(room);
    if (id > r.sent) r.sent = id;
    if (r.pending !== undefined && r.pending <= r.sent) {
      r.pending = undefined;
      clearTimeout(r.timer);
      r.timer = undefined;
    }
  }

  /** The highest id marked read here or known to the service, if any. */
  highest(room: string): number | undefined {
    const r = this.rooms.get(room);
    if (!r) return undefined;
    return Math.max(r.sent, r.pending ?? 0);
  }

  /** The room takes frames again (joined): what waits goes out, still no faster than the interval. */
  resume(room: string): void {
    const r = this.rooms.get(room);
    if (r?.pending !== undefined) this.schedule(room, r);
  }

  /** Writes every waiting marker now, ignoring the interval: the page is going away. */
  flushAll(): void {
    for (const [room, r] of this.rooms) {
      clearTimeout(r.timer);
      r.timer = undefined;
      this.writeNow(room, r);
    }
  }

  forget(room: string): void {
    clearTimeout(this.rooms.get(room)?.timer);
    this.rooms.delete(room);
  }

  dispose(): void {
    for (const r of this.rooms.values()) clearTimeout(r.timer);
  }

  private marker(room: string): RoomMarker {
    let r = this.rooms.get(room);
    if (!r) {
      r = { sent: 0, lastWriteAt: -Infinity };
      this.rooms.set(room, r);
    }
    return r;
  }

  private schedule(room: string, r: RoomMarker): void {
    if (r.timer !== undefined) return; // the waiting timer sends the newest pending id
    const wait = r.lastWriteAt + this.intervalMs - this.now();
    if (wait <= 0) {
      this.writeNow(room, r);
      return;
    }
    r.timer = setTimeout(() => {
      r.timer = undefined;
      if (this.rooms.get(room) === r) this.writeNow(room, r);
    }, wait);
  }

  private writeNow(room: string, r: RoomMarker): void {
    const id = r.pending;
    if (id === undefined) return;
    if (!this.write(room, id)) return; // kept: resume() sends it once the room is joined
    r.sent = id;
    r.pending = undefined;
    r.lastWriteAt = this.now();
  }
}
