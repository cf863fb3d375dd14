/**
 * Typed errors. Every HTTP error of the services is
 * `{"error": {"code": "<snake_case>", "message": "<human text>"}}`; a 429 carries
 * `Retry-After` (seconds). Failures that never reached a service get their own codes.
 */

import type { ErrorCode, KnownErrorCode } from './error-codes';

export type { ChatErrorCode, ClientErrorCode, ErrorCode, ErrorCodeOf, KnownErrorCode, VerificationErrorCode } from './error-codes';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** The contract's snake_case code, or a client-side one (`network_error`, …). */
  readonly code: ErrorCode;
  /** HTTP status; 0 when no answer arrived. */
  readonly status: number;
  /** Seconds to wait before trying again (from `Retry-After`), when the service said. */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, status = 0, retryAfter?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }

  /** True when retrying the same request later can succeed (network, 5xx, 429). */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export function isApiError(err: unknown, code?: ErrorCode): err is ApiError {
  return err instanceof ApiError && (code === undefined || err.code === code);
}

/**
 * `Retry-After` as seconds: either delta-seconds or an HTTP date (RFC 9110).
 * Returns undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (header == null) return undefined;
  const value = header.trim();
  if (value === '') return undefined;
  if (/^\d+$/.test(value)) return Number.parseInt(value, 10);
  // Otherwise only an HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT"), not any string Date.parse takes.
  if (!/^[A-Za-z]{3}, /.test(value)) return undefined;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Fallback codes when a body is not the contract's JSON (a proxy's HTML page, say). */
function codeForStatus(status: number): KnownErrorCode {
  if (status === 401) return 'invalid_token';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'unavailable';
  return 'invalid_request';
}

/** Builds the ApiError for a non-2xx response, reading the contract's body when there is one. */
export async function errorFromResponse(res: Response, now: number = Date.now()): Promise<ApiError> {
  const retryAfter = parseRetryAfter(res.headers.get('Retry-After'), now);
  let text = '';
  try {
    text = await res.text();
  } catch {
    // body unreadable: fall through to the status
  }
  return errorFromBody(res.status, text, retryAfter);
}

/** The mapping itself, separate so it is testable without a Response. */
export function errorFromBody(status: number, body: string, retryAfter?: number): ApiError {
  try {
    const parsed: unknown = JSON.parse(body);
    const inner = (parsed as { error?: unknown } | null)?.error as { code?: unknown; message?: unknown } | undefined;
    if (inner && typeof inner.code === 'string' && inner.code !== '') {
      const message = typeof inner.message === 'string' && inner.message !== '' ? inner.message : inner.code;
      return new ApiError(inner.code, message, status, retryAfter);
    }
  } catch {
    // not JSON
  }
  return new ApiError(codeForStatus(status), `HTTP ${status}`, status, retryAfter);
}

/** Context the sign-in form knows and the service deliberately does not tell. */
export interface DescribeContext {
  /** The code's `expires_in` has passed on this device: `invalid_code` most likely means expired. */
  codeExpired?: boolean;
}

function seconds(n: number): string {
  if (n < 60) return `${n} second${n === 1 ? '' : 's'}`;
  const m = Math.ceil(n / 60);
  return `${m} minute${m === 1 ? '' : 's'}`;
}

type Describe = (err: ApiError, ctx: DescribeContext) => string;

const sessionEnded: Describe = () => 'Your session has ended. Sign in again.';
const ownMessage: Describe = (err) => err.message || 'Something went wrong.';

/**
 * One sentence per code the descriptions name: a code added to or removed from an
 * OpenAPI file breaks the build here until it is worded.
 */
const DESCRIPTIONS: Record<KnownErrorCode, Describe> = {
  invalid_email: () => 'That email address is not valid.',
  rate_limited: (err) =>
    err.retryAfter !== undefined
      ? `Too many requests. Try again in ${seconds(err.retryAfter)}.`
      : 'Too many requests. Try again shortly.',
  invalid_code: (_, ctx) =>
    ctx.codeExpired
      ? 'That code has expired. Send a new code.'
      : 'That code is wrong or has expired. Check it, or send a new code.',
  too_many_attempts: () => 'Too many wrong codes: this code no longer works. Send a new code.',
  invalid_token: sessionEnded,
  signed_out: sessionEnded,
  invalid_room: () => 'That room name is not valid: use lower-case letters, digits, - and _ (up to 64).',
  forbidden: () => 'You are not allowed in that room.',
  network_error: () => 'Cannot reach the service. Check your connection.',
  timeout: () => 'The service took too long to answer. Try again.',
  unavailable: () => 'The service is unavailable right now. Try again shortly.',
  // The service's own words say best what was wrong with the request.
  invalid_request: ownMessage,
  not_found: ownMessage,
  bad_response: ownMessage,
};

export function isKnownErrorCode(code: string): code is KnownErrorCode {
  return Object.hasOwn(DESCRIPTIONS, code);
}

/** A sentence for a person, for any error the client throws. */
export function describeError(err: unknown, ctx: DescribeContext = {}): string {
  if (!(err instanceof ApiError)) {
    return err instanceof Error ? err.message : 'Something went wrong.';
  }
  return isKnownErrorCode(err.code) ? DESCRIPTIONS[err.code](err, ctx) : ownMessage(err, ctx);
}
