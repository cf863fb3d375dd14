// The browser half of `make e2e` (started by e2e/run.sh, which sets the environment):
// two people sign in with mailed codes, chat in one room both ways, one drops offline
// while the other writes, comes back and sees what was missed; plus history paging,
// a direct message and signing out. Prints `e2e: N passed, M failed` and exits non-zero
// on any failure. Screenshots go to RESULTS_DIR.
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const WEB_URL = need('WEB_URL');
const MAIL_DIR = need('MAIL_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const RESULTS_DIR = process.env.RESULTS_DIR || 'test-results';
const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS || 15_000);

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
const pages = [];

async function step(name, fn) {
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

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// ---- mail ----------------------------------------------------------------------------------

/** The newest code mailed to `email` after `since` (ms), read from the file: transport's .eml files. */
async function codeFor(email, since) {
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

async function signIn(page, email, { tryWrongCode = false } = {}) {
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

async function connected(page) {
  await page.locator('#conn[data-state="open"]').waitFor();
}

async function setName(page, name) {
  await openSidebar(page);
  const input = page.getByLabel('Display name');
  await input.fill(name);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#who strong', { hasText: name }).waitFor();
  await connected(page);
}

/** At phone width the sidebar is a drawer behind the "Rooms" button. */
async function openSidebar(page) {
  const toggle = page.getByRole('button', { name: 'Rooms' });
  if ((await toggle.isVisible()) && (await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
}

async function joinRoom(page, room) {
  await openSidebar(page);
  await page.getByLabel('Room name').fill(room);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.locator('#room-title', { hasText: `#${room}` }).waitFor();
  await connected(page);
}

async function say(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

function message(page, text) {
  return page.locator('#message-list li.msg:not(.pending)', { has: page.locator('.body', { hasText: text }) });
}

async function sees(page, text, sender) {
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

async function bodies(page) {
  return page.locator('#message-list li.msg:not(.pending) .body').allTextContents();
}

async function shot(page, name) {
  await page.screenshot({ path: join(RESULTS_DIR, `${name}.png`), fullPage: false });
}

// ---- the test ------------------------------------------------------------------------------

await mkdir(RESULTS_DIR, { recursive: true });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const run = Date.now().toString(36);
const alice = { email: `alice-${run}@example.com`, name: `Alice ${run}` };
const bob = { email: `bob-${run}@example.com`, name: `Bob ${run}` };
const room = `e2e-${run}`;
const historyRoom = `e2e-history-${run}`;

const ctxA = await browser.newContext({ viewport: { width: 1200, height: 800 } });
// Bob is on a phone-width screen.
const ctxB = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
const a = await ctxA.newPage();
const b = await ctxB.newPage();
pages.push(['alice', a], ['bob', b]);
for (const [label, page] of pages) {
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (err) => console.log(`    [${label} page error] ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.log(`    [${label} console] ${msg.text()}`);
  });
}

console.log(`e2e: ${WEB_URL}`);

await step('the sign-in form shows', async () => {
  await a.goto(WEB_URL);
  await a.getByRole('heading', { name: 'Sign in to chatverify' }).waitFor();
  assert(!(await a.getByLabel('Verification code').isVisible()), 'the code field shows before a code was sent');
  await shot(a, 'alice-1-sign-in');
});

await step('Alice signs in with the mailed code (after a wrong one)', async () => {
  await signIn(a, alice.email, { tryWrongCode: true });
});

// Carol only meets the sign-in errors, in a third context.
const ctxC = await browser.newContext({ viewport: { width: 800, height: 700 } });
const c = await ctxC.newPage();
c.setDefaultTimeout(TIMEOUT);
pages.push(['carol', c]);
const carol = { email: `carol-${run}@example.com` };

await step('a second send inside the cooldown is rate limited, with the retry time shown', async () => {
  // Alice's address again at once: 429 rate_limited with Retry-After.
  await c.goto(WEB_URL);
  await c.getByLabel('Email').fill(alice.email);
  await c.getByRole('button', { name: /^Send code/ }).click();
  await c.getByRole('alert').filter({ hasText: /Too many requests\. Try again in \d+ (second|minute)/ }).waitFor();
  assert(await c.getByRole('button', { name: /^Send code \(\d+ s\)$/ }).isDisabled(), 'Send code is not disabled while rate limited');
  await shot(c, 'carol-1-rate-limited');
});

await step('too many wrong codes burn the code, with a message saying so', async () => {
  await c.goto(WEB_URL);
  await c.getByLabel('Email').fill(carol.email);
  const sentAt = Date.now();
  await c.getByRole('button', { name: 'Send code' }).click();
  const code = await codeFor(carol.email, sentAt);
  const box = c.getByLabel('Verification code');
  const burnt = c.getByRole('alert').filter({ hasText: 'Too many wrong codes' });
  for (let i = 1; i <= 8 && !(await burnt.isVisible()); i++) {
    await box.fill(String((Number(code) + i) % 1_000_000).padStart(6, '0'));
    await c.getByRole('button', { name: 'Sign in' }).click();
    await c.getByRole('alert').filter({ hasText: /wrong|Too many/ }).waitFor();
    await c.waitForTimeout(100);
  }
  await burnt.waitFor();
  // The burnt code no longer works, even though it is the right one.
  await box.fill(code);
  await c.getByRole('button', { name: 'Sign in' }).click();
  await c.getByRole('alert').filter({ hasText: /wrong|Too many/ }).waitFor();
  await c.locator('#conn').waitFor({ state: 'detached', timeout: 1000 });
  await shot(c, 'carol-2-too-many-attempts');
});

await step('Bob signs in with the mailed code on a phone-width screen', async () => {
  await signIn(b, bob.email);
});

await step('both set display names (token refreshed, socket reconnected)', async () => {
  await setName(a, alice.name);
  await setName(b, bob.name);
});

await step('both join one room', async () => {
  await joinRoom(a, room);
  await joinRoom(b, room);
});

await step('Alice → Bob: message shows with sender and time', async () => {
  await say(a, 'Hello Bob, this is Alice');
  await sees(b, 'Hello Bob, this is Alice', alice.name);
  await sees(a, 'Hello Bob, this is Alice', alice.name);
});

await step('Bob → Alice', async () => {
  await say(b, 'Hi Alice! Bob here');
  await sees(a, 'Hi Alice! Bob here', bob.name);
  await sees(b, 'Hi Alice! Bob here', bob.name);
  await shot(a, 'alice-2-room');
  await shot(b, 'bob-2-room-phone');
});

await step('Bob goes offline; Alice writes while he is away', async () => {
  await ctxB.setOffline(true);
  await b.locator('#conn[data-state="offline"]').waitFor();
  await say(a, 'missed message one');
  await say(a, 'missed message two');
  await say(a, 'missed message three');
  await sees(a, 'missed message three', alice.name);
  await b.waitForTimeout(500);
  assert((await message(b, 'missed message').count()) === 0, 'Bob got messages while offline');
  await shot(b, 'bob-3-offline');
});

await step('Bob comes back online and shows the missed messages, once each, in order', async () => {
  await ctxB.setOffline(false);
  await connected(b);
  for (const text of ['missed message one', 'missed message two', 'missed message three']) await sees(b, text, alice.name);
  const all = await bodies(b);
  const order = ['Hello Bob, this is Alice', 'Hi Alice! Bob here', 'missed message one', 'missed message two', 'missed message three'];
  assert(JSON.stringify(all) === JSON.stringify(order), `Bob sees ${JSON.stringify(all)}`);
  await shot(b, 'bob-4-back-online');
});

await step('Bob replies after reconnecting; Alice sees it', async () => {
  await say(b, 'Back online, got all three');
  await sees(a, 'Back online, got all three', bob.name);
});

await step('a message sent while offline is delivered once after reconnecting', async () => {
  await ctxB.setOffline(true);
  await b.locator('#conn[data-state="offline"]').waitFor();
  await say(b, 'written while offline');
  await b.locator('#message-list li.pending', { hasText: 'written while offline' }).waitFor();
  await ctxB.setOffline(false);
  await sees(b, 'written while offline', bob.name);
  await sees(a, 'written while offline', bob.name);
  assert((await b.locator('#message-list li.pending').count()) === 0, 'a pending message is left over');
});

await step('older messages load on scroll (history paging with before)', async () => {
  await joinRoom(a, historyRoom);
  const total = 60;
  for (let i = 1; i <= total; i++) await say(a, `history ${String(i).padStart(2, '0')}`);
  await sees(a, `history ${total}`, alice.name);
  await joinRoom(b, historyRoom);
  await sees(b, `history ${total}`, alice.name);
  const first = (await bodies(b)).filter((t) => t.startsWith('history '));
  assert(first.length === 50, `Bob first sees ${first.length} history messages, expected the newest 50`);
  assert(first[0] === 'history 11', `oldest shown first is ${first[0]}`);
  await b.locator('#messages').evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
  await message(b, 'history 01').waitFor();
  const after = (await bodies(b)).filter((t) => t.startsWith('history '));
  assert(after.length === total, `after scrolling up Bob sees ${after.length}, expected ${total}`);
  assert(after.every((t, i) => t === `history ${String(i + 1).padStart(2, '0')}`), 'history is out of order');
});

await step('direct message by user id', async () => {
  await openSidebar(b);
  const bobId = (await b.locator('#my-id').textContent())?.trim();
  const aliceId = (await a.locator('#my-id').textContent())?.trim();
  assert(bobId && aliceId, 'user ids are shown');
  await a.getByLabel('Direct message: user id').fill(bobId);
  await a.getByRole('button', { name: 'Message', exact: true }).click();
  await connected(a);
  await say(a, 'Psst, Bob: a direct message');
  await sees(a, 'Psst, Bob: a direct message', alice.name);
  await openSidebar(b);
  await b.getByLabel('Direct message: user id').fill(aliceId);
  await b.getByRole('button', { name: 'Message', exact: true }).click();
  await sees(b, 'Psst, Bob: a direct message', alice.name);
  await b.locator('#room-title', { hasText: `@${alice.name}` }).waitFor();
  await say(b, 'Got your DM');
  await sees(a, 'Got your DM', bob.name);
  await shot(a, 'alice-5-direct-message');
  await openSidebar(b);
  await b.getByRole('navigation', { name: 'Your rooms' }).getByRole('button', { name: `#${room}`, exact: true }).waitFor();
  await shot(b, 'bob-6-phone-rooms-drawer');
  await b.getByRole('navigation', { name: 'Your rooms' }).getByRole('button', { name: `#${room}`, exact: true }).click();
  await b.locator('#room-title', { hasText: `#${room}` }).waitFor();
  // Choosing a room closes the drawer (after its slide-out transition).
  await b.getByLabel('Room name').waitFor({ state: 'hidden', timeout: 2000 });
});

await step('an expired code is refused with a message saying it expired', async () => {
  await c.goto(WEB_URL);
  const email = `carol2-${run}@example.com`;
  await c.getByLabel('Email').fill(email);
  const sentAt = Date.now();
  await c.getByRole('button', { name: 'Send code' }).click();
  const code = await codeFor(email, sentAt);
  const ttl = Number(process.env.CODE_TTL || 300);
  await c.waitForTimeout(Math.max(0, sentAt + ttl * 1000 + 1500 - Date.now()));
  await c.getByText(/has expired/).first().waitFor();
  await c.getByLabel('Verification code').fill(code);
  await c.getByRole('button', { name: 'Sign in' }).click();
  await c.getByRole('alert').filter({ hasText: 'That code has expired. Send a new code.' }).waitFor();
  await shot(c, 'carol-3-expired');
});

await step('Alice signs out: her other tab is signed out too (close code 4003); Bob stays connected', async () => {
  // A second tab of Alice's shares her stored session and opens its own socket.
  const a2 = await ctxA.newPage();
  a2.setDefaultTimeout(TIMEOUT);
  pages.push(['alice-tab2', a2]);
  await a2.goto(WEB_URL);
  await connected(a2);
  await a.getByRole('button', { name: 'Sign out' }).click();
  await a.getByRole('heading', { name: 'Sign in to chatverify' }).waitFor();
  await a.getByText('You signed out.').waitFor();
  await a2.getByRole('heading', { name: 'Sign in to chatverify' }).waitFor();
  await a2.getByText(/You were signed out/).waitFor();
  await shot(a2, 'alice-6-other-tab-signed-out');
  await connected(b);
  await say(b, 'still here');
  await sees(b, 'still here', bob.name);
});

await browser.close();

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
