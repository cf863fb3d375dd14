/**
 * Where the services are, learned at run time from `config.json` beside the app, so one
 * build works anywhere (the dev server or any static host writes its own config.json).
 */
export interface AppConfig {
  verificationUrl: string;
  chatUrl: string;
}

export const DEFAULT_CONFIG: AppConfig = {
  verificationUrl: 'http://127.0.0.1:8081',
  chatUrl: 'http://127.0.0.1:8082',
};

function isHttpUrl(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Reads a config object; unknown or malformed fields fall back to the defaults. */
export function parseConfig(raw: unknown, fallback: AppConfig = DEFAULT_CONFIG): AppConfig {
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  return {
    verificationUrl: isHttpUrl(o.verificationUrl) ? o.verificationUrl : fallback.verificationUrl,
    chatUrl: isHttpUrl(o.chatUrl) ? o.chatUrl : fallback.chatUrl,
  };
}

export async function loadConfig(url = './config.json'): Promise<AppConfig> {
  try {
    const res = await fetch(url, { cache: 'no-store' });
    if (!res.ok) return DEFAULT_CONFIG;
    return parseConfig(await res.json());
  } catch {
    return DEFAULT_CONFIG;
  }
}
