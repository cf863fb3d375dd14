/**
 * Small values kept per device in localStorage (the room list to draw first, the room
 * that was open). Storage that is full, disabled or holds junk is never an error: the
 * caller gets null and starts fresh.
 */

export function recall(key: string): unknown {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? null : (JSON.parse(raw) as unknown);
  } catch {
    return null;
  }
}

export function remember(key: string, value: unknown): void {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // not fatal: only the next first paint is affected
  }
}
