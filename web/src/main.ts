import { api } from './api';
import { h, show } from './dom';
import { route, startRouter, refreshRoute, type Page } from './router';
import { session } from './session';
import { act, navigated, showMessage } from './ui';

/**
 * The app's entry: the navigation, and the route table. Traveller pages are in this bundle; the admin
 * pages are a chunk loaded on first use (the traveller bundle stays within its 100 KB budget).
 */
route('/', async () => (await import('./pages/search')).searchPage);
route('/login', async () => (await import('./pages/auth')).loginPage);
route('/signup', async () => (await import('./pages/auth')).signupPage);
route('/forgot', async () => (await import('./pages/account')).forgotPage);
route('/reset', async () => (await import('./pages/account')).resetPage);
route('/account', async () => (await import('./pages/account')).accountPage);
route('/flights/:flightId', async () => (await import('./pages/flight')).flightPage);
route('/bookings', async () => (await import('./pages/bookings')).bookingsPage);
route('/bookings/:bookingId', async () => (await import('./pages/bookings')).bookingPage);
route('/holds/:holdId/checkout', async () => (await import('./pages/checkout')).checkoutPage);
route('/manage', async () => (await import('./pages/manage')).managePage);
route('/admin', async () => (await import('./admin/flights')).adminFlightsPage);
route('/admin/flights/:flightId', async () => (await import('./admin/flight')).adminFlightPage);
route('/admin/users', async () => (await import('./admin/users')).adminUsersPage);
route('/admin/registry', async () => (await import('./admin/registry')).adminRegistryPage);

const notFound: Page = (main) => show(main, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '#/' }, 'Search flights')));

async function logout(button: HTMLButtonElement): Promise<void> {
  await act(button, async () => {
    const refreshToken = session.refreshToken();
    // Revokes the refresh token on the server; the session ends here whatever the answer.
    if (refreshToken) await api('POST', '/auth/logout', { body: { refreshToken } }).catch(() => undefined);
    session.end();
    showMessage('You are logged out.');
    location.hash = '#/';
  });
}

function renderNav(): void {
  const user = session.user();
  const links: HTMLElement[] = [h('a', { href: '#/' }, 'Search flights')];
  if (user) links.push(h('a', { href: '#/bookings' }, 'My bookings'));
  links.push(h('a', { href: '#/manage' }, 'Manage booking'));
  if (user?.role === 'admin') links.push(h('a', { href: '#/admin' }, 'Admin'));
  if (user) {
    const button = h('button', { type: 'button', class: 'link-button' }, 'Log out');
    button.addEventListener('click', () => void logout(button));
    links.push(h('a', { href: '#/account' }, 'Account'), h('span', { class: 'who' }, user.name), button);
  } else {
    links.push(h('a', { href: '#/login' }, 'Log in'), h('a', { href: '#/signup' }, 'Sign up'));
  }
  show(document.getElementById('site-nav')!, ...links);
}

const main = document.getElementById('main')!;
session.onChange(() => {
  renderNav();
  refreshRoute(main, notFound);
});
renderNav();
// The skip link moves focus to the page's content; as a hash it would also replace the route in the address.
document.querySelector('.skip-link')!.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', navigated);
startRouter(main, notFound);
