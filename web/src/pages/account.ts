import { api } from '../api';
import { h, show } from '../dom';
import { ApiError, UserError } from '../errors';
import { emailProblem, Field, FormCheck, newPasswordProblem } from '../field';
import { navigate, type Page } from '../router';
import { session } from '../session';
import { onSubmit, requireLogin, showMessage } from '../ui';

/**
 * The account's password (API.md, "Users and tokens"): "Forgot password?" (`#/forgot`) asks for a
 * reset link by email, the link leads to `#/reset?token=…` to choose a new password, and a signed-in
 * person changes theirs on `#/account`. The forgot page says the same whatever the address, as the API
 * answers the same: it never tells whether an account exists.
 */

const SENT = 'If an account exists for that address, we’ve sent a link to choose a new password. It works once, for 30 minutes.';
const CHANGED = 'Your password was changed; other devices were signed out.';
const RESET_DONE = 'Your password was changed, and every device was signed out. Log in with your new password.';
const WRONG_PASSWORD = 'The current password is wrong.';
const LINK_INVALID = 'This reset link is unknown, used or expired. Ask for a new one below.';

const password = (autocomplete: 'current-password' | 'new-password', name: string) =>
  h('input', { type: 'password', name, autocomplete, required: true, maxlength: 128, ...(autocomplete === 'new-password' ? { minlength: 8 } : {}) });

/** A new password typed twice; the second must match the first. */
function newPasswordFields(): { fields: Field[]; check: (form: FormCheck) => string } {
  const first = new Field(password('new-password', 'newPassword'), 'New password', '8–128 characters.');
  const again = new Field(password('new-password', 'newPasswordAgain'), 'New password again');
  return {
    fields: [first, again],
    check: (form) => {
      const value = first.input.value;
      form.check(first, newPasswordProblem(value));
      form.check(again, !again.input.value ? 'Type the new password again.' : again.input.value !== value ? 'The two passwords differ: type the same new password twice.' : undefined);
      return value;
    },
  };
}

export const forgotPage: Page = (main) => {
  const email = new Field(h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true, maxlength: 254 }), 'Email', 'The address of your account.');
  const form = h('form', { novalidate: true }, email.element, h('button', { type: 'submit' }, 'Send reset link'));
  onSubmit(form, async () => {
    const check = new FormCheck();
    check.check(email, emailProblem(email));
    check.done();
    await api('POST', '/auth/password/forgot', { body: { email: email.value }, auth: false });
    const sent = h('p', { tabindex: -1, class: 'message info' }, SENT);
    form.replaceWith(sent);
    sent.focus();
  });
  show(
    main,
    h('h1', {}, 'Forgot your password?'),
    h('p', {}, 'Enter the email address of your account, and we’ll send it a link to choose a new password.'),
    form,
    h('p', {}, h('a', { href: '#/login' }, 'Back to log in')),
  );
};

export const resetPage: Page = (main, params) => {
  const token = params.token ?? '';
  const again = h('p', {}, 'Link expired or already used? ', h('a', { href: '#/forgot' }, 'Ask for a new link'));
  if (!token) {
    show(main, h('h1', {}, 'Choose a new password'), h('p', {}, 'This page needs the link from your password reset email.'), again);
    return;
  }
  const newPassword = newPasswordFields();
  const form = h('form', { novalidate: true }, newPassword.fields.map((field) => field.element), h('button', { type: 'submit' }, 'Set new password'));
  onSubmit(form, async () => {
    const check = new FormCheck();
    const value = newPassword.check(check);
    check.done();
    try {
      await api('POST', '/auth/password/reset', { body: { token, newPassword: value }, auth: false });
    } catch (error) {
      if (error instanceof ApiError && error.code === 'INVALID_TOKEN') throw new UserError(LINK_INVALID);
      throw error;
    }
    // Every session of the account ended, this tab's too if it had one.
    if (session.loggedIn()) session.end();
    showMessage(RESET_DONE);
    navigate('/login');
  });
  show(main, h('h1', {}, 'Choose a new password'), form, again);
};

export const accountPage: Page = (main) => {
  if (!requireLogin()) return;
  const user = session.user();
  const current = new Field(password('current-password', 'currentPassword'), 'Current password');
  const next = new Field(password('new-password', 'newPassword'), 'New password', '8–128 characters. Other devices are signed out; this one stays signed in.');
  const form = h('form', { novalidate: true }, current.element, next.element, h('button', { type: 'submit' }, 'Change password'));
  onSubmit(form, async () => {
    const check = new FormCheck();
    check.check(current, current.input.value ? undefined : 'Enter your current password.');
    check.check(next, newPasswordProblem(next.input.value));
    check.done();
    try {
      await api('POST', '/auth/password/change', { body: { currentPassword: current.input.value, newPassword: next.input.value } });
    } catch (error) {
      if (error instanceof ApiError && error.code === 'INVALID_CREDENTIALS') {
        current.setError(WRONG_PASSWORD);
        current.input.focus();
        throw new UserError(WRONG_PASSWORD);
      }
      throw error;
    }
    current.input.value = '';
    next.input.value = '';
    showMessage(CHANGED);
  });
  show(
    main,
    h('h1', {}, 'Your account'),
    user && h('dl', { class: 'summary' }, h('dt', {}, 'Name'), h('dd', {}, user.name), h('dt', {}, 'Email'), h('dd', {}, user.email)),
    h('h2', {}, 'Change password'),
    form,
  );
};
