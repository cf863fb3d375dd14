// The browser half of `make e2e` (started by e2e/run.sh, which sets the environment):
// two people sign in with mailed codes, chat in one room both ways, one drops offline
// while the other writes, comes back and sees what was missed; typing, who is online,
// unread badges from the room list and read markers; history paging, a first direct
// message showing up in the recipient's list, and signing out. Prints
// `e2e: N passed, M failed` and exits non-zero on any failure. Screenshots go to RESULTS_DIR.
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import {
  assert, badge, bodies, CHROMIUM, codeFor, connected, errorFrames, finish, joinRoom, message, openRoom, openSidebar,
  RESULTS_DIR, roomItem, roomListLoaded, say, sees, serviceRooms, setName, shot, signIn, step, track, until, WEB_URL,
} from './lib.mjs';

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
let dm = ''; // Alice and Bob's direct room, named once their ids are known

const ctxA = await browser.newContext({ viewport: { width: 1200, height: 800 } });
// Bob is on a phone-width screen.
const ctxB = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
const a = track('alice', await ctxA.newPage());
let b = track('bob', await ctxB.newPage());

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
const c = track('carol', await ctxC.newPage());
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

await step('typing: Bob sees "Alice is typing…" for about 5 s, Alice never sees her own', async () => {
  await a.getByLabel('Message', { exact: true }).fill('I am typing something');
  const typing = b.locator('#typing', { hasText: `${alice.name} is typing…` });
  await typing.waitFor();
  const shownAt = Date.now();
  assert((await a.locator('#typing').textContent()) === '', `Alice sees "${await a.locator('#typing').textContent()}"`);
  await shot(b, 'bob-5-typing');
  await typing.waitFor({ state: 'hidden', timeout: 9_000 });
  const shown = Date.now() - shownAt;
  assert(shown >= 3_000, `"typing" went after ${shown} ms, expected about 5 s`);
  await a.getByLabel('Message', { exact: true }).fill('');
});

await step('typing: the typer\'s message ends "typing" at once', async () => {
  const box = a.getByLabel('Message', { exact: true });
  await box.fill('done typing now');
  const typing = b.locator('#typing', { hasText: `${alice.name} is typing…` });
  await typing.waitFor();
  await box.press('Enter');
  await sees(b, 'done typing now', alice.name);
  await typing.waitFor({ state: 'hidden', timeout: 2_000 });
});

// After the typing steps: Alice's typing here would be throttled (one a second) there.
await step('a message over the service\'s limit (MAX_MESSAGE_CHARS=500 here, from GET /v1/limits) is refused, not sent', async () => {
  const box = a.getByLabel('Message', { exact: true });
  const long = 'x'.repeat(501);
  await say(a, long);
  await a.locator('#toast').filter({ hasText: 'A message is at most 500 characters.' }).waitFor();
  assert((await box.inputValue()) === long, 'the refused message was not left in the box to shorten');
  assert((await a.locator('#message-list li.pending').count()) === 0, 'the refused message is pending');
  const atLimit = 'y'.repeat(500);
  await say(a, atLimit);
  await sees(b, atLimit, alice.name);
});

await step('online in this room: both are listed on both screens', async () => {
  await a.locator('#online-list li', { hasText: `${alice.name} (you)` }).waitFor();
  await a.locator('#online-list li', { hasText: bob.name }).waitFor();
  await b.locator('#online-list li', { hasText: `${bob.name} (you)` }).waitFor();
  await b.locator('#online-list li', { hasText: alice.name }).waitFor();
  assert((await a.locator('#online-list li').count()) === 2, 'Alice lists someone else online too');
});

await step('online: Bob drops off Alice\'s list when his page closes, and is back when he returns', async () => {
  await b.close();
  await a.locator('#online-list li', { hasText: bob.name }).waitFor({ state: 'detached' });
  await a.locator('#online-list li', { hasText: `${alice.name} (you)` }).waitFor();
  b = track('bob', await ctxB.newPage());
  await b.goto(WEB_URL);
  await connected(b);
  await b.locator('#room-title', { hasText: `#${room}` }).waitFor(); // the open room is remembered
  await a.locator('#online-list li', { hasText: bob.name }).waitFor();
});

await step('unread: messages in a room Bob is not viewing give it a live badge', async () => {
  await openRoom(b, 'lobby', '#lobby');
  await say(a, 'unread one');
  await say(a, 'unread two');
  await sees(a, 'unread two', alice.name);
  await openSidebar(b);
  await badge(b, room).filter({ hasText: /^2$/ }).waitFor();
  assert((await badge(b, room).getAttribute('aria-label')) === '2 unread', 'the badge is not labelled');
  assert((await badge(a, room).count()) === 0, 'Alice has a badge for her own messages');
  await shot(b, 'bob-7-unread-badge');
});

await step('the room list comes from the service: after a reload, newest first, with the unread count', async () => {
  await b.reload();
  await connected(b);
  await roomListLoaded(b);
  await openSidebar(b);
  await badge(b, room).filter({ hasText: /^2$/ }).waitFor();
  const order = await b.locator('#room-list li').evaluateAll((els) => els.map((el) => el.dataset.room));
  assert(order[0] === room, `the room with the newest message is not first: ${JSON.stringify(order)}`);
  assert(order.includes('lobby'), `the lobby is not listed: ${JSON.stringify(order)}`);
});

await step('opening the room clears its badge; the read marker is stored (no badge after a reload)', async () => {
  await openRoom(b, room, `#${room}`);
  await sees(b, 'unread two', alice.name);
  await badge(b, room).waitFor({ state: 'detached' });
  await until('the service stores Bob\'s read marker', async () => {
    const listed = (await serviceRooms(b)).find((r) => r.room === room);
    return listed?.unread === 0;
  });
  // With another room open, nothing on the reloaded page marks this one read again.
  await openRoom(b, 'lobby', '#lobby');
  await b.reload();
  await connected(b);
  await roomListLoaded(b);
  await openSidebar(b);
  await roomItem(b, room).waitFor();
  assert((await badge(b, room).count()) === 0, 'the badge is back after a reload');
  await openRoom(b, room, `#${room}`);
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

await step('a first direct message shows up in the recipient\'s room list without a reload', async () => {
  await openSidebar(b);
  const bobId = (await b.locator('#my-id').textContent())?.trim();
  const aliceId = (await a.locator('#my-id').textContent())?.trim();
  assert(bobId && aliceId, 'user ids are shown');
  dm = `dm.${[aliceId, bobId].sort().join('.')}`;
  assert((await roomItem(b, dm).count()) === 0, 'Bob lists the direct room before any message');
  // Alice starts it by Bob's id.
  await a.getByLabel('Direct message: user id').fill(bobId);
  await a.getByRole('button', { name: 'Message', exact: true }).click();
  await a.locator('#room-title', { hasText: `@${bob.name}` }).waitFor();
  await connected(a);
  await say(a, 'Psst, Bob: a direct message');
  await sees(a, 'Psst, Bob: a direct message', alice.name);
  // Bob did nothing: the member event puts it in his list, by Alice's name, unread.
  await openSidebar(b);
  await roomItem(b, dm).locator('.room-name', { hasText: `@${alice.name}` }).waitFor();
  await badge(b, dm).filter({ hasText: /^1$/ }).waitFor();
  const order = await b.locator('#room-list li').evaluateAll((els) => els.map((el) => el.dataset.room));
  assert(order[0] === dm, `the newest room is not first: ${JSON.stringify(order)}`);
  await shot(b, 'bob-8-direct-message-listed');
});

await step('Bob opens the direct room from his list: the message, no badge, a reply', async () => {
  await openRoom(b, dm, `@${alice.name}`);
  await sees(b, 'Psst, Bob: a direct message', alice.name);
  await badge(b, dm).waitFor({ state: 'detached' });
  await say(b, 'Got your DM');
  await sees(a, 'Got your DM', bob.name);
  await shot(a, 'alice-5-direct-message');
  await openSidebar(b);
  await roomItem(b, room).waitFor();
  await shot(b, 'bob-9-phone-rooms-drawer');
  await roomItem(b, room).locator('.room-button').click();
  await b.locator('#room-title', { hasText: `#${room}` }).waitFor();
  // Choosing a room closes the drawer (after its slide-out transition).
  await b.getByLabel('Room name').waitFor({ state: 'hidden', timeout: 2000 });
});

await step('leaving a room (×) ends the membership: it stays gone after a reload', async () => {
  await openSidebar(b);
  await roomItem(b, historyRoom).getByRole('button', { name: `Leave #${historyRoom}` }).click();
  await roomItem(b, historyRoom).waitFor({ state: 'detached' });
  await until('the service forgets Bob\'s membership', async () => !(await serviceRooms(b)).some((r) => r.room === historyRoom));
  await b.reload();
  await connected(b);
  await roomListLoaded(b);
  await roomItem(b, room).waitFor({ state: 'attached' });
  assert((await roomItem(b, historyRoom).count()) === 0, 'the room left is listed again after a reload');
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
  const a2 = track('alice-tab2', await ctxA.newPage());
  await a2.goto(WEB_URL);
  await connected(a2);
  // Settled first: a request of a2 refused at the instant of the logout would end its
  // session as "expired" (a 401 does not say why) before the socket's 4003 says "revoked".
  await roomListLoaded(a2);
  await a2.locator('#online-list li', { hasText: `${alice.name} (you)` }).waitFor();
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

// Every read and typing frame was accepted: a refused one (not_joined, invalid_request)
// answers with an error frame, which the app would only show as a passing toast.
await step('no socket received an error frame', async () => {
  assert(errorFrames.length === 0, `error frames:\n      ${errorFrames.join('\n      ')}`);
});

await browser.close();
finish();
