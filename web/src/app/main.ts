import '../styles.css';
import { ChatverifyClient, WebStorageStore, type SignOutReason } from '../client';
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
  let chat: ChatView | null = null;
  let stopSignIn: (() => void) | null = null;

  const showSignIn = (notice?: string) => {
    chat?.destroy();
    chat = null;
    stopSignIn?.();
    stopSignIn = renderSignIn(root, { client, notice, onSignedIn: showChat });
  };
  const showChat = () => {
    stopSignIn?.();
    stopSignIn = null;
    chat?.destroy();
    chat = new ChatView(root, { client });
    (document.getElementById('message') as HTMLTextAreaElement | null)?.focus();
  };

  client.on('signed_out', (reason) => showSignIn(NOTICES[reason]));
  if (client.signedIn) showChat();
  else showSignIn();
}

const root = document.getElementById('app');
if (root) void boot(root);
