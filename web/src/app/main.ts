import '../styles.css';
import { ChatverifyClient, loadLimits, WebStorageStore, type SignOutReason } from '../client';
import { ChatView } from './chat';
import { loadConfig } from './config';
import { renderSignIn } from './signin';

const NOTICES: Record<SignOutReason, string> = {
  logout: 'You signed out.',
  expired: 'Your session expired. Sign in again.',
  revoked: 'You were signed out (this login was ended elsewhere). Sign in again.',
};

async function boot(root: HTMLElement): Promise<void> {
  const config = await loadConfig();
  const client = new ChatverifyClient({ ...config, store: new WebStorageStore() });
  // Message size, code length, name bounds, … as the services are configured; the
  // contract's defaults for a service that does not answer in time.
  const limits = await loadLimits(client);
  if (limits.unreachable.length > 0) console.warn(`limits: using the defaults for ${limits.unreachable.join(' and ')}`);
  let chat: ChatView | null = null;
  let stopSignIn: (() => void) | null = null;

  const showSignIn = (notice?: string) => {
    chat?.destroy();
    chat = null;
    stopSignIn?.();
    stopSignIn = renderSignIn(root, { client, limits: limits.verification, notice, onSignedIn: showChat });
  };
  const showChat = () => {
    stopSignIn?.();
    stopSignIn = null;
    chat?.destroy();
    chat = new ChatView(root, { client, limits });
    (document.getElementById('message') as HTMLTextAreaElement | null)?.focus();
  };

  client.on('signed_out', (reason) => showSignIn(NOTICES[reason]));
  if (client.signedIn) showChat();
  else showSignIn();
}

const root = document.getElementById('app');
if (root) void boot(root);
