/**
 * The message box: Enter sends (Shift+Enter, or an IME composition, does not), the box
 * grows with its text, typing is announced (the socket throttles it), and a message the
 * service would refuse stays in the box with the reason, so it can be shortened.
 */

import { MessageRefused, type ChatSocket } from '../client';
import { refusalText } from './format';

export interface ComposerOptions {
  form: HTMLFormElement;
  input: HTMLTextAreaElement;
  socket: ChatSocket;
  /** The open room, which messages go to. */
  room(): string;
  toast(text: string, field?: HTMLElement): void;
  /** A message went out (pending until its echo). */
  sent(): void;
}

export function wireComposer(o: ComposerOptions): void {
  const autosize = () => {
    o.input.style.height = 'auto';
    o.input.style.height = `${Math.min(o.input.scrollHeight, 160)}px`;
  };
  const send = () => {
    const text = o.input.value;
    if (text.trim() === '') return;
    try {
      o.socket.send(o.room(), text); // checked against the service's limits first
    } catch (err) {
      if (!(err instanceof MessageRefused)) throw err;
      o.toast(refusalText(err), o.input);
      return;
    }
    o.input.value = '';
    autosize();
    o.sent();
  };
  o.form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    send();
  });
  o.input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send();
    }
  });
  o.input.addEventListener('input', () => {
    autosize();
    if (o.input.value.trim() !== '') o.socket.typing(o.room());
  });
}
