import type { SocketAuth, WebSocketLike } from '../src/client';

/** A scripted WebSocket: the test plays the server. */
export class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  closedWith: number | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  static last(): FakeSocket {
    const s = FakeSocket.all.at(-1);
    if (!s) throw new Error('no socket opened');
    return s;
  }
  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }
  // server side
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: unknown): void {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  /** Frames of one type the client sent. */
  frames(type: string): Record<string, unknown>[] {
    return this.sent.filter((f) => (f as { type?: string }).type === type) as Record<string, unknown>[];
  }
}

export function fakeAuth(overrides: Partial<SocketAuth> = {}) {
  let n = 0;
  const calls = { token: 0, refresh: 0, verify: 0, revoked: 0 };
  const auth: SocketAuth = {
    token: async () => {
      calls.token++;
      return `tok${n}`;
    },
    refresh: async () => {
      calls.refresh++;
      n++;
    },
    verify: async () => {
      calls.verify++;
      return 'ok';
    },
    revoked: () => {
      calls.revoked++;
    },
    ...overrides,
  };
  return { auth, calls };
}

export function msg(room: string, id: number, extra: Record<string, unknown> = {}) {
  return {
    type: 'message' as const,
    id,
    room,
    user: 'Ann',
    user_id: '00000000-0000-4000-8000-000000000001',
    message: `m${id}`,
    timestamp: '2025-01-02T03:04:05.000000Z',
    client_id: null,
    ...extra,
  };
}

/** A fetch that answers from a queue of handlers, recording the requests. */
export function scriptedFetch() {
  const requests: { url: string; method: string; headers: Record<string, string>; body: unknown }[] = [];
  const queue: ((url: string, init: RequestInit) => Response | Promise<Response>)[] = [];
  const fetchFn = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const headers = (init.headers ?? {}) as Record<string, string>;
    requests.push({ url, method: init.method ?? 'GET', headers, body: init.body ? JSON.parse(String(init.body)) : undefined });
    const next = queue.shift();
    if (!next) throw new Error(`unexpected request ${init.method ?? 'GET'} ${url}`);
    return next(url, init);
  }) as typeof fetch;
  return {
    fetch: fetchFn,
    requests,
    reply(status: number, body?: unknown, headers: Record<string, string> = {}) {
      queue.push(() => new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } }));
    },
    fail(err: unknown = new TypeError('Failed to fetch')) {
      queue.push(() => Promise.reject(err));
    },
    pending: () => queue.length,
  };
}

export function pair(n: number, expiresIn = 900) {
  return {
    access_token: `access-${n}`,
    token_type: 'Bearer' as const,
    expires_in: expiresIn,
    refresh_token: `refresh-${n}`,
    user: { id: '00000000-0000-4000-8000-000000000001', email: 'ann@example.com', display_name: 'ann' },
  };
}
