// The typed client in a few lines: sign in with a mailed code, load a room's history,
// then follow it live on the socket. docs/api/README.md shows this file; `npm run
// typecheck` compiles it and test/docs.test.ts checks the README's copy is this one.
import {
  ChatverifyClient,
  describeError,
  loadLimits,
  MessageRefused,
  socketLimits,
  WebStorageStore,
  type ChatMessage,
} from '../src/client';

const client = new ChatverifyClient({
  verificationUrl: 'http://127.0.0.1:8081',
  chatUrl: 'http://127.0.0.1:8082',
  store: new WebStorageStore(), // the session survives a reload; tokens refresh on their own
});

/** Step 1: a code is mailed; step 2: the code signs in (and creates the user the first time). */
export async function signIn(email: string, askForCode: (digits: number) => Promise<string>): Promise<void> {
  const { verification } = await loadLimits(client);
  try {
    const sent = await client.sendCode(email); // { expires_in: 300, resend_after: 60 }
    console.log(`code valid for ${sent.expires_in} s`);
    const pair = await client.confirm(email, await askForCode(verification.code_length));
    console.log(`signed in as ${pair.user.display_name} (${pair.user.id})`);
  } catch (err) {
    console.error(describeError(err)); // e.g. "Too many requests. Try again in 42 seconds."
    throw err;
  }
}

/** Shows a room's last page, then every new message once, in id order, across reconnects. */
export async function follow(room: string, show: (m: ChatMessage) => void): Promise<(text: string) => void> {
  const { chat } = await loadLimits(client);
  const socket = client.socket(socketLimits(chat)); // the service's message size, frame size, typing rate

  const page = await client.history(room, { limit: chat.history_limit.default });
  page.forEach(show);
  socket.markSeen(room, page.map((m) => m.id));
  // `since`: the newest id shown. The service replays anything after it, then goes live;
  // after a drop the socket rejoins with the last id it saw, by itself.
  socket.join(room, { since: page.at(-1)?.id ?? 0 });

  socket.on('message', show);
  socket.on('error', (frame) => console.warn(`${frame.code}: ${frame.message}`)); // the socket stays open
  socket.on('state', (state) => console.log(`socket: ${state}`)); // 'open', 'reconnecting', 'signed_out', …
  socket.connect();

  return (text) => {
    try {
      socket.send(room, text); // echoed back as a 'message' once stored
    } catch (err) {
      if (err instanceof MessageRefused) console.warn(err.message); // over max_message_chars, empty, …
      else throw err;
    }
  };
}
