import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, ChatverifyClient, describeError, errorFromBody, errorFromResponse, isKnownErrorCode, parseRetryAfter, type KnownErrorCode } from '../src/client';
import { pair, scriptedFetch } from './helpers';

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('42')).toBe(42);
    expect(parseRetryAfter(' 7 ')).toBe(7);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
  });
  it('is undefined when absent or unreadable', () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('')).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('-5')).toBeUndefined();
  });
});

describe('errorFromResponse', () => {
  it('maps the contract body, status and Retry-After', async () => {
    const res = new Response('{"error":{"code":"rate_limited","message":"wait"}}', { status: 429, headers: { 'Retry-After': '17' } });
    const err = await errorFromResponse(res);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'rate_limited', status: 429, retryAfter: 17, message: 'wait' });
    expect(err.retryable).toBe(true);
  });

  it.each([
    [400, '{"error":{"code":"invalid_code","message":"no"}}', 'invalid_code'],
    [429, '{"error":{"code":"too_many_attempts","message":"burnt"}}', 'too_many_attempts'],
    [400, '{"error":{"code":"invalid_email","message":"bad"}}', 'invalid_email'],
    [401, '{"error":{"code":"invalid_token","message":"bad"}}', 'invalid_token'],
    [401, '<html>proxy</html>', 'invalid_token'],
    [403, '', 'forbidden'],
    [404, 'nope', 'not_found'],
    [429, '{}', 'rate_limited'],
    [502, '<html>bad gateway</html>', 'unavailable'],
    [400, '{"error":{"code":""}}', 'invalid_request'],
  ])('HTTP %i %s → %s', (status, body, code) => {
    const err = errorFromBody(status, body);
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
  });
});

describe('describeError', () => {
  it('tells a person what happened and what to do', () => {
    expect(describeError(new ApiError('rate_limited', '', 429, 42))).toBe('Too many requests. Try again in 42 seconds.');
    expect(describeError(new ApiError('rate_limited', '', 429, 1))).toBe('Too many requests. Try again in 1 second.');
    expect(describeError(new ApiError('rate_limited', '', 429, 125))).toBe('Too many requests. Try again in 3 minutes.');
    expect(describeError(new ApiError('rate_limited', '', 429))).toMatch(/shortly/);
    expect(describeError(new ApiError('invalid_code', '', 400))).toMatch(/wrong or has expired/);
    expect(describeError(new ApiError('invalid_code', '', 400), { codeExpired: true })).toBe('That code has expired. Send a new code.');
    expect(describeError(new ApiError('too_many_attempts', '', 429))).toMatch(/Too many wrong codes/);
    expect(describeError(new ApiError('invalid_email', '', 400))).toMatch(/not valid/);
    expect(describeError(new ApiError('network_error', ''))).toMatch(/Cannot reach/);
    expect(describeError(new ApiError('something_new', 'The service said so', 400))).toBe('The service said so');
    expect(describeError(new Error('plain'))).toBe('plain');
  });

  it('has a sentence for every code the descriptions name, and the service’s words where they say more', () => {
    const codes: KnownErrorCode[] = [
      'invalid_email', 'invalid_code', 'too_many_attempts', 'rate_limited', 'invalid_token', 'unavailable',
      'invalid_room', 'forbidden', 'network_error', 'timeout', 'signed_out',
    ];
    for (const code of codes) {
      expect(isKnownErrorCode(code)).toBe(true);
      const text = describeError(new ApiError(code, 'raw service text', 400));
      expect(text, code).not.toBe('raw service text');
      expect(text.length, code).toBeGreaterThan(10);
    }
    for (const code of ['invalid_request', 'not_found', 'bad_response'] as const) {
      expect(describeError(new ApiError(code, 'limit must be between 1 and 100', 400))).toBe('limit must be between 1 and 100');
    }
    expect(isKnownErrorCode('method_not_allowed')).toBe(false);
  });
});

describe('ChatverifyClient error mapping', () => {
  afterEach(() => vi.useRealTimers());
  const make = (f: ReturnType<typeof scriptedFetch>, timeout?: number) =>
    new ChatverifyClient({ verificationUrl: 'http://v/', chatUrl: 'http://c', fetch: f.fetch, lock: (_n, fn) => fn(), requestTimeoutMs: timeout });

  it('a network failure is network_error with status 0', async () => {
    const f = scriptedFetch();
    f.fail();
    await expect(make(f).sendCode('a@b.c')).rejects.toMatchObject({ code: 'network_error', status: 0 });
  });

  it('a request that does not answer in time is timeout', async () => {
    vi.useFakeTimers();
    const client = new ChatverifyClient({
      verificationUrl: 'http://v',
      chatUrl: 'http://c',
      requestTimeoutMs: 1000,
      lock: (_n, fn) => fn(),
      fetch: ((_u: unknown, init: RequestInit) =>
        new Promise((_, reject) =>
          init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))),
        )) as typeof fetch,
    });
    const check = expect(client.sendCode('a@b.c')).rejects.toMatchObject({ code: 'timeout', status: 0 });
    await vi.advanceTimersByTimeAsync(1001);
    await check;
  });

  it('a 2xx body that is not JSON is bad_response; an empty one is fine', async () => {
    const f = scriptedFetch();
    const client = make(f);
    f.reply(202, undefined);
    await expect(client.sendCode('a@b.c')).resolves.toBeUndefined();
    const html = new ChatverifyClient({
      verificationUrl: 'http://v',
      chatUrl: 'http://c',
      lock: (_n, fn) => fn(),
      fetch: (async () => new Response('<html></html>', { status: 200 })) as typeof fetch,
    });
    await expect(html.sendCode('a@b.c')).rejects.toMatchObject({ code: 'bad_response', status: 200 });
  });

  it('sends JSON to the contract paths and maps the confirm errors', async () => {
    const f = scriptedFetch();
    const client = make(f);
    f.reply(202, { expires_in: 300, resend_after: 60 });
    await expect(client.sendCode('ann@example.com')).resolves.toEqual({ expires_in: 300, resend_after: 60 });
    expect(f.requests[0]).toMatchObject({ url: 'http://v/v1/verification/send', method: 'POST', body: { email: 'ann@example.com' } });
    expect(f.requests[0]!.headers['Content-Type']).toBe('application/json');

    f.reply(400, { error: { code: 'invalid_code', message: 'invalid code' } });
    await expect(client.confirm('ann@example.com', '000000')).rejects.toMatchObject({ code: 'invalid_code', status: 400 });
    f.reply(429, { error: { code: 'too_many_attempts', message: 'burnt' } });
    await expect(client.confirm('ann@example.com', '000000')).rejects.toMatchObject({ code: 'too_many_attempts', status: 429 });
    expect(client.signedIn).toBe(false);

    f.reply(200, pair(1));
    await client.confirm('ann@example.com', '123456');
    expect(client.signedIn).toBe(true);
    expect(client.user?.email).toBe('ann@example.com');
    client.dispose();
  });
});
