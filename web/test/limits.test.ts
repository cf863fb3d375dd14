import { describe, expect, it } from 'vitest';
import {
  ApiError,
  ChatverifyClient,
  chatLimitsFrom,
  DEFAULT_CHAT_LIMITS,
  DEFAULT_VERIFICATION_LIMITS,
  loadLimits,
  socketLimits,
  verificationLimitsFrom,
  type ChatLimits,
} from '../src/client';
import { scriptedFetch } from './helpers';

const served: ChatLimits = {
  max_message_chars: 500,
  max_frame_bytes: 8192,
  chat_rate: 5,
  chat_burst: 10,
  max_client_id_chars: 64,
  typing_interval_ms: 2000,
  max_rooms_per_socket: 7,
  max_sockets_per_user: 3,
  max_memberships: 20,
  history_limit: { min: 1, max: 200, default: 25 },
};

describe('limits from GET /v1/limits', () => {
  it('takes what the service serves', () => {
    expect(chatLimitsFrom(served)).toEqual(served);
    const v = { ...DEFAULT_VERIFICATION_LIMITS, code_length: 8, display_name_max_chars: 40 };
    expect(verificationLimitsFrom(v)).toEqual(v);
  });

  it('keeps the default for a field that is missing or not a count, and drops unknown ones', () => {
    const body = {
      ...served,
      max_message_chars: undefined,
      chat_rate: -1,
      chat_burst: 1.5,
      typing_interval_ms: '2000',
      history_limit: { max: 200 },
      a_newer_limit: 3,
    };
    expect(chatLimitsFrom(body)).toEqual({
      ...served,
      max_message_chars: DEFAULT_CHAT_LIMITS.max_message_chars,
      chat_rate: DEFAULT_CHAT_LIMITS.chat_rate,
      chat_burst: DEFAULT_CHAT_LIMITS.chat_burst,
      typing_interval_ms: DEFAULT_CHAT_LIMITS.typing_interval_ms,
      history_limit: { ...DEFAULT_CHAT_LIMITS.history_limit, max: 200 },
    });
    expect(chatLimitsFrom('<html>')).toEqual(DEFAULT_CHAT_LIMITS);
  });

  it('the defaults are the contract’s', () => {
    expect(DEFAULT_CHAT_LIMITS).toMatchObject({ max_message_chars: 4000, max_frame_bytes: 65536, chat_rate: 20, chat_burst: 40 });
    expect(DEFAULT_VERIFICATION_LIMITS).toMatchObject({ code_length: 6, code_ttl_secs: 300, resend_cooldown_secs: 60, max_code_attempts: 5 });
  });

  it('the client asks each service, without a token', async () => {
    const http = scriptedFetch();
    const client = new ChatverifyClient({ verificationUrl: 'http://v', chatUrl: 'http://c', fetch: http.fetch, lock: (_, fn) => fn() });
    http.reply(200, served);
    http.reply(200, { ...DEFAULT_VERIFICATION_LIMITS, code_length: 8 });
    const limits = await loadLimits(client);
    expect(http.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET http://c/v1/limits', 'GET http://v/v1/limits']);
    expect(http.requests.every((r) => r.headers.Authorization === undefined)).toBe(true);
    expect(limits).toEqual({ chat: served, verification: { ...DEFAULT_VERIFICATION_LIMITS, code_length: 8 }, unreachable: [] });
    client.dispose();
  });

  it('a service that cannot be asked gets the defaults, and is named', async () => {
    const limits = await loadLimits({
      chatLimits: async () => {
        throw new ApiError('network_error', 'down');
      },
      verificationLimits: async () => DEFAULT_VERIFICATION_LIMITS,
    });
    expect(limits).toEqual({ chat: DEFAULT_CHAT_LIMITS, verification: DEFAULT_VERIFICATION_LIMITS, unreachable: ['chat'] });
  });

  it('start-up does not wait long for a service that does not answer', async () => {
    const hang = (_: RequestInfo | URL, init: RequestInit = {}) =>
      new Promise<Response>((_resolve, reject) => init.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    const client = new ChatverifyClient({ verificationUrl: 'http://v', chatUrl: 'http://c', fetch: hang as typeof fetch, lock: (_, fn) => fn() });
    const started = Date.now();
    const limits = await loadLimits(client, { timeoutMs: 50 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(limits.unreachable).toEqual(['chat', 'verification']);
    client.dispose();
  });

  it('hands the socket its limits', () => {
    expect(socketLimits(served)).toEqual({ maxMessageChars: 500, maxFrameBytes: 8192, typingIntervalMs: 2000 });
  });
});
