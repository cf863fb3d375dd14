// Helpers of the browser test (e2e/chat.e2e.mjs): the environment, a tiny step runner,
// mailed codes from the file: transport, and page actions and checks. Each check waits
// for the DOM state with a timeout and fails otherwise.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const WEB_URL = need('WEB_URL');
const MAIL_DIR = need('MAIL_DIR');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const RESULTS_DIR = process.env.RESULTS_DIR || 'test-results';
export const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 15_000);

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`e2e: ${name} is not set (run it through e2e/run.sh)`);
    process.exit(2);
  }
  return v;
}

// ---- a tiny step runner ------------------------------------------------------------------

const results = [];
let broken = false;
/** [label, page] pairs screenshot when a step fails. */
export const pages = [];
/** Error frames any page's socket received, as `label: frame`. */
export const errorFrames = [];

export async function step(name, fn) {
  if (broken) {
    results.push({ name, ok: false, skipped: true });
    console.log(`  - ${name} (skipped: an earlier step failed)`);
    return;
  }
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`  ✓ ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    results.push({ name, ok: false });
    broken = true;
    console.log(`  ✗ ${name}\n    ${String(err?.stack || err).split('\n').slice(0, 6).join('\n    ')}`);
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 40);
    for (const [label, page] of pages) {
      await page.screenshot({ path: join(RESULTS_DIR, `failed-${slug}-${label}.png`), fullPage: true }).catch(() => {});
    }
  }
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Polls `check` until it returns true; fails after the timeout with `what`. */
export async function until(what, check, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${timeout} ms`);
}

// ---- mail ----------------------------------------------------------------------------------

/** The newest code mailed to `email` after `since` (ms), read from the file: transport's .eml files. */
export async function codeFor(email, since) {
  const deadline = Date.now() + TIMEOUT;
  while (Date.now() < deadline) {
    let best = null;
    for (const name of await readdir(MAIL_DIR).catch(() => [])) {
      if (!name.endsWith('.eml')) continue;
      const path = join(MAIL_DIR, name);
      const { mtimeMs } = await stat(path);
      if (mtimeMs < since - 1000) continue;
      const raw = await readFile(path, 'utf8');
      const head = raw.split(/\r?\n\r?\n/, 1)[0].replace(/\r?\n[ \t]+/g, ' ');
      const to = /^To:(.*)$/im.exec(head)?.[1] ?? '';
      const code = /^Subject:\s*(\d{6}) is your verification code/im.exec(head)?.[1];
      if (code && to.toLowerCase().includes(email.toLowerCase()) && (!best || mtimeMs > best.mtimeMs)) best = { code, mtimeMs };
    }
    if (best) return best.code;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`no code mailed to ${email} within ${TIMEOUT} ms`);
}

// ---- page helpers --------------------------------------------------------------------------

export async function signIn(page, email, { tryWrongCode = false } = {}) {
  await page.goto(WEB_URL);
  await page.getByLabel('Email').fill(email);
  const sentAt = Date.now();
  await page.getByRole('button', { name: 'Send code' }).click();
  const codeInput = page.getByLabel('Verification code');
  await codeInput.waitFor();
  assert(!(await page.getByLabel('Email').isVisible()), 'the email form still shows next to the code form');
  const code = await codeFor(email, sentAt);
  if (tryWrongCode) {
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    await codeInput.fill(wrong);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong or has expired' }).waitFor();
  }
  await codeInput.fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await connected(page);
}

export async function connected(page) {
  await page.locator('#conn[data-state="open"]').waitFor();
}

export async function setName(page, name) {
  await openSidebar(page);
  const input = page.getByLabel('Display name');
  await input.fill(name);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#who strong', { hasText: name }).waitFor();
  await connected(page);
}

/** At phone width the sidebar is a drawer behind the "Rooms" button. */
export async function openSidebar(page) {
  const toggle = page.getByRole('button', { name: 'Rooms' });
  if ((await toggle.isVisible()) && (await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
}

export async function joinRoom(page, room) {
  await openSidebar(page);
  await page.getByLabel('Room name').fill(room);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.locator('#room-title', { hasText: `#${room}` }).waitFor();
  await connected(page);
}

export async function say(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

export function message(page, text) {
  return page.locator('#message-list li.msg:not(.pending)', { has: page.locator('.body', { hasText: text }) });
}

export async function sees(page, text, sender) {
  const item = message(page, text);
  await item.first().waitFor();
  const count = await item.count();
  assert(count === 1, `"${text}" is shown ${count} times`);
  if (sender) {
    const who = await item.locator('.sender').textContent();
    assert(who === sender, `"${text}" shows sender ${JSON.stringify(who)}, expected ${JSON.stringify(sender)}`);
  }
  const time = await item.locator('time').getAttribute('datetime');
  assert(time && !Number.isNaN(Date.parse(time)), `"${text}" has no valid time`);
}

export async function bodies(page) {
  return page.locator('#message-list li.msg:not(.pending) .body').allTextContents();
}

export function roomItem(page, name) {
  return page.locator(`#room-list li[data-room="${name}"]`);
}

export function badge(page, name) {
  return roomItem(page, name).locator('.unread');
}

/** Opens a room from the sidebar's list. */
export async function openRoom(page, name, title) {
  await openSidebar(page);
  await roomItem(page, name).locator('.room-button').click();
  await page.locator('#room-title', { hasText: title }).waitFor();
}

/** The room list has been loaded from the service (not only drawn from this device's cache). */
export async function roomListLoaded(page) {
  await page.locator('#room-list[data-loaded="true"]').waitFor({ state: 'attached' });
}

/** `GET /v1/rooms` as the page's signed-in user: what the service has stored. */
export async function serviceRooms(page) {
  const { chatUrl } = await (await fetch(`${WEB_URL}/config.json`)).json();
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem('chatverify.session') ?? 'null')?.accessToken);
  assert(token, 'no stored session');
  const res = await fetch(`${chatUrl}/v1/rooms`, { headers: { Authorization: `Bearer ${token}` } });
  assert(res.ok, `GET /v1/rooms answered ${res.status}`);
  return (await res.json()).rooms;
}

export async function shot(page, name) {
  await page.screenshot({ path: join(RESULTS_DIR, `${name}.png`), fullPage: false });
}

/** Timeouts, error logging and failure screenshots for a page (a reopened one takes its label's place). */
export function track(label, page) {
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (err) => console.log(`    [${label} page error] ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.log(`    [${label} console] ${msg.text()}`);
  });
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload === 'string' && payload.includes('"type":"error"')) errorFrames.push(`${label}: ${payload}`);
    });
  });
  const i = pages.findIndex(([l]) => l === label);
  if (i >= 0) pages[i] = [label, page];
  else pages.push([label, page]);
  return page;
}

/** Prints the tally; the exit status says whether every step passed. */
export function finish() {
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
