/**
 * The client's own liveness check. The server pings idle sockets at the WebSocket level,
 * and the browser answers those by itself, but a browser never tells the page that a
 * connection went silent (a laptop that slept, a NAT that forgot it): after `intervalMs`
 * with no frame, send a JSON `ping`, and count the connection dead when no frame at all
 * follows within `timeoutMs`.
 */
export interface HeartbeatOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Sends `{"type": "ping"}`. */
  ping(): void;
  /** Nothing came back in time. */
  dead(): void;
}

export class Heartbeat {
  private pingTimer: ReturnType<typeof setTimeout> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly opts: HeartbeatOptions) {}

  /** Any frame proves the connection alive: starts the quiet period again. */
  arm(): void {
    this.stop();
    this.pingTimer = setTimeout(() => {
      this.opts.ping();
      this.pongTimer = setTimeout(() => this.opts.dead(), this.opts.timeoutMs);
    }, this.opts.intervalMs);
  }

  stop(): void {
    clearTimeout(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = undefined;
    this.pongTimer = undefined;
  }
}
