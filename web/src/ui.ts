import { h, show } from './dom';
import { sentenceFor } from './errors';
import { currentPath, navigate } from './router';
import { session } from './session';

/**
 * The page-wide message areas of index.html: #messages (role=alert) for errors and results a person
 * must notice, #notices (role=status, visually hidden) for polite announcements to screen readers such
 * as a live seat change.
 */
function messages(): HTMLElement {
  return document.getElementById('messages')!;
}

// A message outlives one navigation (so "Flight BA117 created." is read on the page it leads to), not two.
let navigation = 0;
let shownIn = 0;

export function showError(error: unknown): void {
  shownIn = navigation;
  show(messages(), h('p', { class: 'message error' }, sentenceFor(error)));
}

export function showMessage(text: string): void {
  shownIn = navigation;
  show(messages(), h('p', { class: 'message info' }, text));
}

/** Called on every route change. */
export function navigated(): void {
  navigation += 1;
  if (shownIn < navigation - 1) clearMessages();
}

export function clearMessages(): void {
  messages().replaceChildren();
}

export function announce(text: string): void {
  document.getElementById('notices')!.textContent = text;
}

/** Runs an action from a button or form: clears old messages, disables the control while it runs, shows any error as a sentence. */
export async function act(control: HTMLButtonElement | HTMLFormElement | undefined, action: () => Promise<void>): Promise<void> {
  clearMessages();
  const button = control instanceof HTMLFormElement ? control.querySelector<HTMLButtonElement>('button[type=submit]') : control;
  if (button) button.disabled = true;
  try {
    await action();
  } catch (error) {
    showError(error);
  } finally {
    if (button) button.disabled = false;
  }
}

/** Pages for signed-in people send others to the login page, which comes back here afterwards. */
export function requireLogin(): boolean {
  if (session.loggedIn()) return true;
  navigate(`/login?next=${encodeURIComponent(currentPath())}`);
  return false;
}

export function requireAdmin(main: HTMLElement): boolean {
  if (!requireLogin()) return false;
  if (session.isAdmin()) return true;
  show(main, h('h1', {}, 'Admin'), h('p', {}, 'These pages are for admins. Your account is not an admin account.'));
  return false;
}

/**
 * A destructive action in two steps, without a browser dialog (keyboard users and tests need none):
 * the `ask` button turns into `really` and `keep`. Focus lands on `keep`, so a repeated key press
 * never confirms by accident. `confirmed` runs through act() (errors as sentences).
 */
export function twoStepAction(labels: { ask: string; really: string; keep: string; askClass?: string }, confirmed: () => Promise<void>): HTMLElement {
  const box = h('div', { class: 'actions' });
  const offer = (): HTMLButtonElement => {
    const ask = h('button', { type: 'button', class: labels.askClass ?? 'secondary' }, labels.ask);
    ask.addEventListener('click', reallyAsk);
    show(box, ask);
    return ask;
  };
  const reallyAsk = () => {
    const really = h('button', { type: 'button', class: 'danger' }, labels.really);
    const keep = h('button', { type: 'button', class: 'secondary' }, labels.keep);
    really.addEventListener('click', () => void act(really, confirmed));
    keep.addEventListener('click', () => offer().focus());
    show(box, really, keep);
    keep.focus();
  };
  offer();
  return box;
}

/** A form's submit handler without the browser's own navigation. */
export function onSubmit(form: HTMLFormElement, action: () => Promise<void>): HTMLFormElement {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void act(form, action);
  });
  return form;
}
