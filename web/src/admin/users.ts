import { api } from '../api';
import { dateTime, field, h } from '../dom';
import type { Page } from '../router';
import { session, type User } from '../session';
import { act, onSubmit, requireAdmin, showError, showMessage } from '../ui';
import { adminHeading, dataTable, section, showMoreButton, tableRow } from './nav';
import type { List } from '../types';

/**
 * The admin's users page: every account with its role and status, changed row by row, and a form for
 * new accounts. The API enforces the admin-safety rules (API.md); the page states them, disables the
 * admin's own controls, and puts a row back as it was when the API refuses a change.
 */

const ROLES = ['user', 'admin'] as const;
const RULE_ID = 'admin-safety-rule';
const PAGE_SIZE = 50;

const roleOptions = (selected: string) => ROLES.map((role) => h('option', { value: role, selected: role === selected }, role));
const article = (role: string) => (role === 'admin' ? 'an admin' : 'a user');

/** One user's row; its controls change the user and show what the API answered. */
function userRow(initial: User, isMe: boolean): HTMLTableRowElement {
  let user = initial;
  // The admin's own controls are off, and say why (the rule above the table).
  const guarded = { disabled: isMe, 'aria-describedby': isMe ? RULE_ID : undefined };
  const role = h('select', { 'aria-label': `Role for ${user.email}`, ...guarded }, roleOptions(user.role));
  const status = h('span');
  const toggle = h('button', { type: 'button', class: 'secondary', ...guarded });
  const render = () => {
    role.value = user.role;
    status.textContent = user.disabled ? 'disabled' : 'enabled';
    toggle.textContent = `${user.disabled ? 'Enable' : 'Disable'} ${user.name}`;
  };
  const change = async (body: { role?: string; disabled?: boolean }, control: HTMLSelectElement | HTMLButtonElement, done: () => string) => {
    control.disabled = true;
    await act(undefined, async () => {
      try {
        user = await api<User>('PATCH', `/admin/users/${encodeURIComponent(user.id)}`, { body });
        showMessage(done());
      } finally {
        // After a refusal (LAST_ADMIN, CANNOT_CHANGE_SELF) this puts the row back as the API has it.
        render();
      }
    });
    control.disabled = false;
  };
  role.addEventListener('change', () => void change({ role: role.value }, role, () => `${user.name} is now ${article(user.role)}.`));
  toggle.addEventListener('click', () => void change({ disabled: !user.disabled }, toggle, () => `${user.name} is ${user.disabled ? 'disabled' : 'enabled'}.`));
  render();
  return tableRow(isMe ? `${user.name} (you)` : user.name, user.email, role, status, dateTime(user.createdAt), toggle);
}

function newUserSection(onCreated: (user: User) => void): HTMLElement {
  const name = h('input', { type: 'text', required: true, maxlength: 100, autocomplete: 'off' });
  const email = h('input', { type: 'email', required: true, maxlength: 254, autocomplete: 'off' });
  const password = h('input', { type: 'password', required: true, minlength: 8, maxlength: 128, autocomplete: 'new-password' });
  const role = h('select', {}, roleOptions('user'));
  const form = h(
    'form',
    {},
    field('Name', name),
    field('Email', email),
    field('Password', password, '8 to 128 characters.'),
    field('Role', role),
    h('button', { type: 'submit' }, 'Create user'),
  );
  onSubmit(form, async () => {
    const user = await api<User>('POST', '/admin/users', { body: { name: name.value, email: email.value, password: password.value, role: role.value } });
    onCreated(user);
    form.reset();
    showMessage(`User ${user.email} created (${article(user.role)}).`);
  });
  return section('New user', form);
}

export const adminUsersPage: Page = async (main) => {
  if (!requireAdmin(main)) return;
  adminHeading(main, 'Admin: users');
  const me = session.user();
  const { table, body } = dataTable('Users', ['Name', 'Email', 'Role', 'Status', 'Created', 'Action']);
  // A user created here may come again on a later page of the list: each is shown once.
  const shown = new Set<string>();
  const addRows = (users: User[]) => {
    const fresh = users.filter((user) => !shown.has(user.id));
    fresh.forEach((user) => shown.add(user.id));
    body.append(...fresh.map((user) => userRow(user, user.id === me?.id)));
  };
  const listPath = (cursor?: string) => `/admin/users?limit=${PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;

  main.append(h('p', { id: RULE_ID }, 'Admins cannot demote or disable themselves, and the last enabled admin cannot be demoted or disabled.'), table);
  try {
    const first = await api<List<User>>('GET', listPath());
    addRows(first.items);
    main.append(
      showMoreButton(first.nextCursor, table, async (cursor) => {
        const page = await api<List<User>>('GET', listPath(cursor));
        addRows(page.items);
        return page.nextCursor;
      }),
    );
  } catch (error) {
    showError(error);
  }
  main.append(newUserSection((user) => addRows([user])));
};
