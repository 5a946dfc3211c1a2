import { api } from '../api';
import { field, h, show } from '../dom';
import { navigate, type Page, type Params } from '../router';
import { session, type TokenPair } from '../session';
import { onSubmit } from '../ui';

/**
 * Log in and sign up. Both answer a token pair that starts the session, then go back to where the
 * person came from (`next`, e.g. the flight whose seats they were picking).
 */

/** Only paths inside this app: `next` comes from the address bar. */
function nextPath(params: Params): string {
  return params.next?.startsWith('/') ? params.next : '/';
}

function withNext(path: string, params: Params): string {
  return params.next ? `#${path}?next=${encodeURIComponent(params.next)}` : `#${path}`;
}

function input(name: string, type: string, autocomplete: string, extra: Record<string, string | number> = {}): HTMLInputElement {
  return h('input', { name, type, autocomplete, required: true, ...extra });
}

export const loginPage: Page = (main, params) => {
  const email = input('email', 'email', 'email');
  const password = input('password', 'password', 'current-password');
  const form = h('form', {}, field('Email', email), field('Password', password), h('button', { type: 'submit' }, 'Log in'));
  onSubmit(form, async () => {
    session.start(await api<TokenPair>('POST', '/auth/login', { body: { email: email.value, password: password.value }, auth: false }));
    navigate(nextPath(params));
  });
  show(
    main,
    h('h1', {}, 'Log in'),
    form,
    h('p', {}, h('a', { href: '#/forgot' }, 'Forgot password?')),
    h('p', {}, 'No account yet? ', h('a', { href: withNext('/signup', params) }, 'Sign up')),
  );
};

export const signupPage: Page = (main, params) => {
  const name = input('name', 'text', 'name');
  const email = input('email', 'email', 'email');
  const password = input('password', 'password', 'new-password', { minlength: 8, maxlength: 128 });
  const form = h(
    'form',
    {},
    field('Name', name),
    field('Email', email),
    field('Password', password, '8–128 characters.'),
    h('button', { type: 'submit' }, 'Create account'),
  );
  onSubmit(form, async () => {
    const body = { name: name.value.trim(), email: email.value, password: password.value };
    session.start(await api<TokenPair>('POST', '/auth/register', { body, auth: false }));
    navigate(nextPath(params));
  });
  show(main, h('h1', {}, 'Sign up'), form, h('p', {}, 'Already have an account? ', h('a', { href: withNext('/login', params) }, 'Log in')));
};
