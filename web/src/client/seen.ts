/**
 * What a socket has seen, per room: the highest message id (the `since` of a rejoin)
 * and a bounded set of recent ids to drop duplicates by (room, id).
 */

export class SeenTracker {
  private readonly last = new Map<string, number>();
  private readonly ids = new Map<string, Set<number>>();
  /** Per room: ids at or below this were evicted from the set and count as seen. */
  private readonly floor = new Map<string, number>();

  /** @param maxIdsPerRoom how many recent ids to remember per room */
  constructor(private readonly maxIdsPerRoom = 2000) {}

  /** The highest id seen in the room (or recorded with `advance`), if any. */
  since(room: string): number | undefined {
    return this.last.get(room);
  }

  /** Records that everything up to `id` is known (from history, or an explicit `since`). */
  advance(room: string, id: number): void {
    const cur = this.last.get(room);
    if (cur === undefined || id > cur) this.last.set(room, id);
  }

  has(room: string, id: number): boolean {
    const f = this.floor.get(room);
    if (f !== undefined && id <= f) return true;
    return this.ids.get(room)?.has(id) ?? false;
  }

  /**
   * Records message (room, id). Returns false when it was already seen (a duplicate to drop).
   */
  add(room: string, id: number): boolean {
    if (this.has(room, id)) return false;
    let set = this.ids.get(room);
    if (!set) {
      set = new Set();
      this.ids.set(room, set);
    }
    set.add(id);
    if (set.size > this.maxIdsPerRoom) {
      // Forget the lowest id; everything at or below it now counts as seen.
      let min = Infinity;
      for (const v of set) if (v < min) min = v;
      set.delete(min);
      this.floor.set(room, Math.max(this.floor.get(room) ?? -Infinity, min));
    }
    this.advance(room, id);
    return true;
  }

  forget(room: string): void {
    this.last.delete(room);
    this.ids.delete(room);
    this.floor.delete(room);
  }
}
