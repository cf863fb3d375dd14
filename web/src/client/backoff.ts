/** Exponential backoff with jitter for reconnects and retries. */

export interface BackoffOptions {
  /** First delay's ceiling, ms. */
  baseMs?: number;
  /** Largest delay, ms. */
  maxMs?: number;
  /** Growth per attempt. */
  factor?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 500, maxMs: 30_000, factor: 2 };

/**
 * Delay before retry number `attempt` (0 for the first retry): "equal jitter", a uniform
 * pick in [cap/2, cap] where cap = min(maxMs, baseMs · factor^attempt). Half the delay is
 * guaranteed, so retries really slow down; the other half spreads many clients that lost
 * the same server so they do not all come back in the same instant.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { baseMs, maxMs, factor } = { ...DEFAULT_BACKOFF, ...options };
  const n = Math.max(0, Math.floor(attempt));
  // Math.min first so a huge attempt cannot overflow to Infinity·0 = NaN.
  const cap = Math.min(maxMs, baseMs * Math.pow(factor, Math.min(n, 64)));
  const half = cap / 2;
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(half + r * half);
}
