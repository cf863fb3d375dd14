/** Sign in with an email address and the code mailed to it (`code_length` digits: verification's limits). */

import { ApiError, describeError, type ChatverifyClient, type VerificationLimits } from '../client';
import { h } from './dom';

export interface SignInOptions {
  client: ChatverifyClient;
  /** Verification's `GET /v1/limits`: how many digits a code has. */
  limits: VerificationLimits;
  /** Shown above the form, e.g. why the last session ended. */
  notice?: string;
  onSignedIn(): void;
}

export function renderSignIn(root: HTMLElement, { client, limits, notice, onSignedIn }: SignInOptions): () => void {
  const digits = limits.code_length;
  let email = '';
  /** Epoch ms when the current code expires, by this device's clock. */
  let codeExpiresAt = 0;
  /** Epoch ms before which a new code may not be requested. */
  let resendAt = 0;
  /** Epoch ms until which the service asked us to wait (429). */
  let blockedUntil = 0;
  let lastError: ApiError | null = null;
  let busy = false;

  const error = h('p', { id: 'signin-error', class: 'error', role: 'alert', 'aria-live': 'assertive' });
  const info = h('p', { id: 'signin-info', class: 'info', role: 'status' }, notice ?? '');

  const emailInput = h('input', {
    id: 'email', name: 'email', type: 'email', autocomplete: 'email', required: true,
    inputmode: 'email', spellcheck: 'false', 'aria-describedby': 'signin-error',
  });
  const sendButton = h('button', { type: 'submit', class: 'primary' }, 'Send code');
  const haveCode = h('button', { type: 'button', class: 'link' }, 'I already have a code');
  const emailForm = h('form', { id: 'email-form', novalidate: true },
    h('label', { for: 'email' }, 'Email'),
    emailInput,
    sendButton,
    h('div', { class: 'row' }, haveCode),
  );

  const codeInput = h('input', {
    id: 'code', name: 'code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: `[0-9]{${digits}}`, maxlength: digits, required: true, 'aria-describedby': 'code-help signin-error',
  });
  const codeHelp = h('p', { id: 'code-help', class: 'help' });
  const confirmButton = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const resendButton = h('button', { type: 'button', id: 'resend' }, 'Send a new code');
  const otherEmail = h('button', { type: 'button', class: 'link' }, 'Use another email');
  const codeForm = h('form', { id: 'code-form', novalidate: true, hidden: true },
    codeHelp,
    h('label', { for: 'code' }, 'Verification code'),
    codeInput,
    confirmButton,
    h('div', { class: 'row' }, resendButton, otherEmail),
  );

  const section = h('section', { class: 'signin card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to chatverify'),
    h('p', { class: 'help' }, `We email you a ${digits}-digit code. No password needed.`),
    info,
    emailForm,
    codeForm,
    error,
  );
  root.replaceChildren(section);
  emailInput.focus();

  const showError = (err: unknown) => {
    lastError = err instanceof ApiError ? err : null;
    if (err instanceof ApiError && err.retryAfter !== undefined && err.status === 429 && err.code === 'rate_limited') {
      blockedUntil = Date.now() + err.retryAfter * 1000;
    }
    error.textContent = describeError(err, { codeExpired: codeExpiresAt > 0 && Date.now() >= codeExpiresAt });
    tick();
  };
  const clearError = () => {
    lastError = null;
    error.textContent = '';
  };

  /** Once a second: countdowns on the buttons and in a rate-limit message. */
  const tick = () => {
    const now = Date.now();
    const wait = Math.max(0, Math.ceil((Math.max(blockedUntil, codeForm.hidden ? 0 : resendAt) - now) / 1000));
    sendButton.disabled = busy || Math.ceil((blockedUntil - now) / 1000) > 0;
    sendButton.textContent = blockedUntil > now ? `Send code (${Math.ceil((blockedUntil - now) / 1000)} s)` : 'Send code';
    resendButton.disabled = busy || wait > 0;
    resendButton.textContent = wait > 0 ? `Send a new code (${wait} s)` : 'Send a new code';
    confirmButton.disabled = busy;
    if (lastError?.code === 'rate_limited') {
      const left = Math.max(0, Math.ceil((blockedUntil - now) / 1000));
      error.textContent = left > 0 ? describeError(new ApiError('rate_limited', '', 429, left)) : 'You can try again now.';
    }
    if (!codeForm.hidden && codeExpiresAt > 0) {
      const left = Math.ceil((codeExpiresAt - now) / 1000);
      codeHelp.textContent = left > 0
        ? `We sent a ${digits}-digit code to ${email}. It expires in ${left >= 60 ? `${Math.ceil(left / 60)} min` : `${left} s`}.`
        : `The code sent to ${email} has expired. Send a new code.`;
    }
  };
  const timer = setInterval(tick, 1000);

  const send = async () => {
    clearError();
    busy = true;
    tick();
    try {
      const result = await client.sendCode(email);
      const now = Date.now();
      codeExpiresAt = now + result.expires_in * 1000;
      resendAt = now + result.resend_after * 1000;
      emailForm.hidden = true;
      codeForm.hidden = false;
      info.textContent = '';
      codeInput.value = '';
      codeInput.focus();
    } catch (err) {
      showError(err);
    } finally {
      busy = false;
      tick();
    }
  };

  emailForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    email = emailInput.value.trim().toLowerCase();
    if (!email || !emailInput.checkValidity()) {
      error.textContent = 'Enter your email address, like ann@example.com.';
      emailInput.focus();
      return;
    }
    void send();
  });

  resendButton.addEventListener('click', () => void send());

  // A code sent a moment ago (the resend cooldown answers 429) is still good: let it be typed.
  haveCode.addEventListener('click', () => {
    email = emailInput.value.trim().toLowerCase();
    if (!email || !emailInput.checkValidity()) {
      error.textContent = 'Enter your email address first, like ann@example.com.';
      emailInput.focus();
      return;
    }
    clearError();
    codeExpiresAt = 0;
    codeHelp.textContent = `Enter the last code we sent to ${email}.`;
    emailForm.hidden = true;
    codeForm.hidden = false;
    codeInput.focus();
    tick();
  });

  otherEmail.addEventListener('click', () => {
    clearError();
    codeForm.hidden = true;
    emailForm.hidden = false;
    codeExpiresAt = 0;
    emailInput.focus();
    tick();
  });

  codeInput.addEventListener('input', () => {
    const typed = codeInput.value.replace(/\D/g, '').slice(0, digits);
    if (typed !== codeInput.value) codeInput.value = typed;
  });

  codeForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const code = codeInput.value.trim();
    if (code.length !== digits || !/^\d+$/.test(code)) {
      error.textContent = `The code is ${digits} digits.`;
      codeInput.focus();
      return;
    }
    clearError();
    busy = true;
    tick();
    try {
      await client.confirm(email, code);
      clearInterval(timer);
      onSignedIn();
    } catch (err) {
      showError(err);
      codeInput.select();
    } finally {
      busy = false;
      tick();
    }
  });

  tick();
  return () => clearInterval(timer);
}
