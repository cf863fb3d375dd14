/**
 * When a `typing` frame may go out. The service ignores more than one a second per
 * socket (in any room), so sending on every keystroke would only waste frames; the
 * others show "typing" for about 5 s, so one a second is plenty.
 */
export class TypingThrottle {
  private last = -Infinity;

  /**
   * @param intervalMs least time between two frames (default 1000: the service's limit)
   */
  constructor(
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a frame may go out now; when it may, the time is taken. */
  take(): boolean {
    const t = this.now();
    if (t - this.last < this.intervalMs) return false;
    this.last = t;
    return true;
  }

  /** A new connection: the service counts per socket, so the first frame may go at once. */
  reset(): void {
    this.last = -Infinity;
  }
}
