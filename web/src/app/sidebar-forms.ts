/** The sidebar's forms: join a room by name, message a user by id, copy one's id, rename. */

import { ApiError, describeError, directRoom, isUuid, normalizeRoomInput, type ChatverifyClient, type VerificationLimits } from '../client';
import { byId } from './dom';

export interface SidebarActions {
  client: ChatverifyClient;
  /** Verification's limits: the display name's bounds. */
  limits: VerificationLimits;
  /** Opens (and joins) a room. */
  open(room: string): void;
  toast(text: string, field?: HTMLElement): void;
  /** The display name changed: new messages carry the name of the token the socket connected with. */
  renamed(): void;
}

export function wireSidebarForms(root: HTMLElement, a: SidebarActions): void {
  byId<HTMLFormElement>(root, 'join-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = byId<HTMLInputElement>(root, 'join-room');
    const name = normalizeRoomInput(input.value);
    if (!name) {
      a.toast(describeError(new ApiError('invalid_room', 'invalid room', 400)), input);
      input.focus();
      return;
    }
    input.value = '';
    a.open(name);
  });

  byId<HTMLFormElement>(root, 'dm-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = byId<HTMLInputElement>(root, 'dm-user');
    const me = a.client.user?.id;
    const other = input.value.trim().toLowerCase();
    if (!me || !isUuid(other)) {
      a.toast('Enter the other person’s user id: a UUID like 0b6f2c1e-…', input);
      input.focus();
      return;
    }
    if (other === me) {
      a.toast('That is your own user id. Enter someone else’s.', input);
      input.focus();
      return;
    }
    input.value = '';
    a.open(directRoom(me, other));
  });

  byId(root, 'copy-id').addEventListener('click', async () => {
    const id = a.client.user?.id ?? '';
    try {
      await navigator.clipboard.writeText(id);
      a.toast('User id copied.');
    } catch {
      a.toast(`Your user id: ${id}`);
    }
  });

  const nameInput = byId<HTMLInputElement>(root, 'display-name');
  byId<HTMLFormElement>(root, 'name-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = nameInput.value.trim();
    const { display_name_min_chars: min, display_name_max_chars: max } = a.limits;
    const chars = [...name].length;
    if (chars < min || chars > max) {
      a.toast(`A display name is ${min} to ${max} characters.`, nameInput);
      return;
    }
    try {
      await a.client.updateMe(name);
      a.renamed();
      a.toast('Display name saved.');
    } catch (err) {
      a.toast(describeError(err), nameInput);
    }
  });
}
