/** One JSON request to a service: time limit, error mapping, no cookies. */

import { ApiError, errorFromResponse } from './errors';

export interface HttpOptions {
  fetch: typeof fetch;
  /** Per-request time limit, ms. */
  timeoutMs: number;
  /** For `Retry-After` given as a date. */
  now: () => number;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH';
  body?: unknown;
  /** Bearer access token. */
  token?: string;
}

/**
 * Sends the request and returns the parsed JSON body (undefined for an empty one).
 * Every failure is an ApiError: the service's own error, or `network_error`, `timeout`,
 * `bad_response` when no usable answer came.
 */
export async function requestJson<T>(http: HttpOptions, base: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), http.timeoutMs);
  let res: Response;
  try {
    res = await http.fetch(`${base}${path}`, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: controller.signal,
      credentials: 'omit',
    });
  } catch (err) {
    clearTimeout(timer);
    if (controller.signal.aborted) throw new ApiError('timeout', `no answer within ${http.timeoutMs} ms`, 0, undefined, { cause: err });
    throw new ApiError('network_error', `cannot reach ${base}`, 0, undefined, { cause: err });
  }
  try {
    if (!res.ok) throw await errorFromResponse(res, http.now());
    if (res.status === 204) return undefined as T;
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      const code = controller.signal.aborted ? 'timeout' : 'network_error';
      throw new ApiError(code, `the answer from ${base} was cut off`, 0, undefined, { cause: err });
    }
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new ApiError('bad_response', `response is not JSON (HTTP ${res.status})`, res.status, undefined, { cause: err });
    }
  } finally {
    clearTimeout(timer);
  }
}
