/**
 * The limits a client shows or checks, from each service's unauthenticated
 * `GET /v1/limits` (its running configuration) rather than constants copied from the
 * contract. The contract's defaults stand in only for a service that cannot be asked,
 * or for a field an older service does not send.
 */

import type { ChatSocketOptions } from './socket-types';
import type { ChatLimits, VerificationLimits } from './types';

/** The contract's defaults (CONTRACT.md), typed by the generated `Limits` of each service. */
export const DEFAULT_CHAT_LIMITS: ChatLimits = {
  max_message_chars: 4000,
  max_frame_bytes: 65536,
  chat_rate: 20,
  chat_burst: 40,
  max_client_id_chars: 64,
  typing_interval_ms: 1000,
  max_rooms_per_socket: 100,
  max_sockets_per_user: 32,
  max_memberships: 1000,
  history_limit: { min: 1, max: 100, default: 50 },
};

export const DEFAULT_VERIFICATION_LIMITS: VerificationLimits = {
  code_length: 6,
  code_ttl_secs: 300,
  resend_cooldown_secs: 60,
  max_code_attempts: 5,
  display_name_min_chars: 1,
  display_name_max_chars: 32,
};

type Counts = { readonly [field: string]: number | Counts };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Each field of `defaults` from `body` when it is a count there, else the default; other fields are dropped. */
function countsFrom<T extends Counts>(body: unknown, defaults: T): T {
  const raw = isObject(body) ? body : {};
  const out: Record<string, number | Counts> = {};
  for (const [field, fallback] of Object.entries(defaults)) {
    const value = raw[field];
    out[field] = typeof fallback === 'number' ? (isCount(value) ? value : fallback) : countsFrom(value, fallback);
  }
  return out as T;
}

/** Chat's `GET /v1/limits` body, completed with the defaults where a field is missing or not a count. */
export function chatLimitsFrom(body: unknown): ChatLimits {
  return countsFrom(body, DEFAULT_CHAT_LIMITS);
}

/** Verification's `GET /v1/limits` body, completed likewise. */
export function verificationLimitsFrom(body: unknown): VerificationLimits {
  return countsFrom(body, DEFAULT_VERIFICATION_LIMITS);
}

/** What loadLimits needs: ChatverifyClient has both. */
export interface LimitsSource {
  chatLimits(options?: { timeoutMs?: number }): Promise<ChatLimits>;
  verificationLimits(options?: { timeoutMs?: number }): Promise<VerificationLimits>;
}

export interface Limits {
  chat: ChatLimits;
  verification: VerificationLimits;
  /** The services that could not be asked: their limits are the contract's defaults. */
  unreachable: ('chat' | 'verification')[];
}

/**
 * Both services' limits, asked at once; a service that does not answer within
 * `timeoutMs` (default 3000: start-up waits for this) gets the contract's defaults.
 */
export async function loadLimits(source: LimitsSource, options: { timeoutMs?: number } = {}): Promise<Limits> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const [chat, verification] = await Promise.allSettled([
    source.chatLimits({ timeoutMs }),
    source.verificationLimits({ timeoutMs }),
  ]);
  const unreachable: Limits['unreachable'] = [];
  if (chat.status === 'rejected') unreachable.push('chat');
  if (verification.status === 'rejected') unreachable.push('verification');
  return {
    chat: chat.status === 'fulfilled' ? chat.value : DEFAULT_CHAT_LIMITS,
    verification: verification.status === 'fulfilled' ? verification.value : DEFAULT_VERIFICATION_LIMITS,
    unreachable,
  };
}

/** The ChatSocket options that come from chat's limits. */
export function socketLimits(limits: ChatLimits): Pick<ChatSocketOptions, 'maxMessageChars' | 'maxFrameBytes' | 'typingIntervalMs'> {
  return {
    maxMessageChars: limits.max_message_chars,
    maxFrameBytes: limits.max_frame_bytes,
    typingIntervalMs: limits.typing_interval_ms,
  };
}
