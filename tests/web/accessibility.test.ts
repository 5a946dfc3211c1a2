import { api, registerUser, uniqueEmail } from '../support/http';
import {
  alertText,
  axeCheck,
  createFlight,
  loginAdminViaUi,
  open,
  registerAndLogin,
  screenshot,
  seat,
  until,
  showMoreUntil,
  unexpectedConsoleErrors,
  useBrowser,
  type TestFlight,
  type UserPage,
} from '../support/browser';
import type { Page } from 'playwright-core';
import { fillPassengers, payWith, shownReference } from './checkout-steps';

/** Empties the message area, for a screenshot of the page itself. */
const clearMessages = (page: Page) => page.evaluate(() => (globalThis as any).document.getElementById('messages').replaceChildren());

/**
 * axe-core on every page of the web app, in the state a person sees it (results listed, a hold
 * running, a migration report shown): no serious or critical violation of the WCAG 2.2 A/AA rules and
 * axe's best practices (the checkout too: empty, with field errors, with a declined card; the booking;
 * manage booking, not found and found). The same walk takes the README's screenshots when WEB_SCREENSHOTS_DIR is set
 * (`npm run screenshots`).
 */

jest.setTimeout(60_000);

describe('every page passes axe (no serious or critical violations)', () => {
  const { newUser } = useBrowser();
  let traveller: UserPage;
  let admin: UserPage;
  let anonymous: UserPage;
  let flight: TestFlight;
  let adminFlight: TestFlight;
  /** The traveller's booking's reference, for the manage-booking page. */
  let reference: string;
  // A day no other test flies, so the search shows these flights only.
  const day = '2027-07-04';

  beforeAll(async () => {
    flight = await createFlight({ rows: 6, origin: 'LHR', destination: 'JFK', departureTime: `${day}T09:30:00Z`, arrivalTime: `${day}T17:45:00Z` });
    adminFlight = await createFlight({ rows: 3, origin: 'LHR', destination: 'JFK', departureTime: `${day}T13:00:00Z`, arrivalTime: `${day}T21:15:00Z` });
    await createFlight({ rows: 2, origin: 'LHR', destination: 'JFK', departureTime: `${day}T18:40:00Z`, arrivalTime: '2027-07-05T02:55:00Z' });
    [traveller, admin, anonymous] = [await newUser(), await newUser(), await newUser()];
    await Promise.all([registerAndLogin(traveller.page, 'axe'), loginAdminViaUi(admin.page)]);
  });

  afterAll(() => {
    for (const user of [traveller, admin, anonymous].filter(Boolean)) {
      expect(user.errors).toEqual([]);
      expect(unexpectedConsoleErrors(user)).toEqual([]);
      expect(user.foreignRequests).toEqual([]);
    }
  });

  it('search with results', async () => {
    await open(anonymous.page, `#/?origin=LHR&destination=JFK&date=${day}`, 'Search flights', { reload: true });
    await anonymous.page.getByRole('link', { name: `Choose seats on ${flight.flightNumber}` }).waitFor();
    await axeCheck(anonymous.page, 'search with results');
    await screenshot(anonymous.page, 'search');
  });

  it('search without flights that day, with the nearest days offered', async () => {
    await open(anonymous.page, `#/?origin=LHR&destination=JFK&date=2027-07-02`, 'Search flights', { reload: true });
    await anonymous.page.getByRole('link', { name: /^Sunday, July 4: \d+ flights$/ }).waitFor();
    await axeCheck(anonymous.page, 'search without flights that day');
  });

  it('log in, with an error shown', async () => {
    await open(anonymous.page, '#/login', 'Log in', { reload: true });
    await axeCheck(anonymous.page, 'log in');
    await anonymous.page.getByLabel('Email').fill(uniqueEmail('nobody'));
    await anonymous.page.getByLabel('Password').fill('wrong password');
    await anonymous.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await alertText(anonymous.page, 'The email or password is wrong.');
    await axeCheck(anonymous.page, 'log in with an error');
    await screenshot(anonymous.page, 'login-error');
  });

  it('sign up', async () => {
    await open(anonymous.page, '#/signup', 'Sign up', { reload: true });
    await axeCheck(anonymous.page, 'sign up');
  });

  it('the seat map, with seats selected and held by someone else', async () => {
    const other = await registerUser('axe-other');
    await api('POST', `/flights/${flight.id}/holds`, { token: other.accessToken, body: { seats: ['3C', '3D'] } });
    await open(traveller.page, `#/flights/${flight.id}`, new RegExp(flight.flightNumber), { reload: true });
    await traveller.page.getByText('Live', { exact: true }).waitFor();
    await seat(traveller.page, '4A').click();
    await seat(traveller.page, '4B').click();
    await traveller.page.getByRole('button', { name: 'Hold 2 seats' }).waitFor();
    await axeCheck(traveller.page, 'seat map');
    await screenshot(traveller.page, 'seat-map');
  });

  it('the hold panel with its countdown', async () => {
    await traveller.page.getByRole('button', { name: 'Hold 2 seats' }).click();
    await traveller.page.getByRole('heading', { level: 2, name: 'Your hold' }).waitFor();
    await traveller.page.getByRole('timer').waitFor();
    await axeCheck(traveller.page, 'hold panel');
    await screenshot(traveller.page, 'hold');
  });

  it('a seat refused with a message', async () => {
    await seat(traveller.page, '3C').click();
    await alertText(traveller.page, 'Seat 3C is taken. Pick another seat.');
    await axeCheck(traveller.page, 'seat map with a message');
  });

  it('the checkout page, empty and then with the problems shown beside the fields', async () => {
    await traveller.page.getByRole('link', { name: 'Check out' }).click();
    await traveller.page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
    await traveller.page.getByRole('radio', { name: 'Visa (succeeds)' }).waitFor();
    await axeCheck(traveller.page, 'checkout');
    await traveller.page.getByRole('button', { name: /^Pay / }).click();
    await alertText(traveller.page, 'Please check the form');
    await axeCheck(traveller.page, 'checkout with field errors');
  });

  it('the checkout page with a declined card', async () => {
    await fillPassengers(traveller.page, { '4A': ['Jean', 'Dupont'], '4B': ['Marie', 'Dupont-Lefèvre'] });
    await payWith(traveller.page, 'Declined card');
    await alertText(traveller.page, 'Your card was declined.');
    await axeCheck(traveller.page, 'checkout with a declined card');
    await traveller.page.getByRole('radio', { name: 'Visa (succeeds)' }).check();
    await clearMessages(traveller.page);
    await screenshot(traveller.page, 'checkout', { fullPage: true });
  });

  it('the booking page', async () => {
    await payWith(traveller.page, 'Visa (succeeds)');
    await traveller.page.getByRole('heading', { level: 1, name: 'Booking confirmed' }).waitFor();
    reference = await shownReference(traveller.page);
    await axeCheck(traveller.page, 'booking');
    await screenshot(traveller.page, 'booking');
  });

  it('manage booking: a mismatch, then the booking found', async () => {
    await open(anonymous.page, '#/manage', 'Manage booking', { reload: true });
    await axeCheck(anonymous.page, 'manage booking');
    await anonymous.page.getByLabel('Booking reference').fill(reference);
    await anonymous.page.getByLabel('Last name').fill('Nobody');
    await anonymous.page.getByRole('button', { name: 'Find booking' }).click();
    await alertText(anonymous.page, 'We found no booking with that reference and last name.');
    await axeCheck(anonymous.page, 'manage booking, not found');
    await anonymous.page.getByLabel('Last name').fill('Dupont-Lefèvre');
    await anonymous.page.getByRole('button', { name: 'Find booking' }).click();
    await anonymous.page.getByRole('heading', { level: 2, name: 'Your booking' }).waitFor();
    await axeCheck(anonymous.page, 'manage booking, found');
    await screenshot(anonymous.page, 'manage-booking');
  });

  it('my bookings', async () => {
    await open(traveller.page, '#/bookings', 'My bookings', { reload: true });
    await traveller.page.getByRole('link', { name: 'View booking' }).first().waitFor();
    await axeCheck(traveller.page, 'my bookings');
    await traveller.page.getByRole('button', { name: 'Cancel booking' }).first().click();
    await traveller.page.getByRole('button', { name: 'Really cancel?' }).waitFor();
    await axeCheck(traveller.page, 'my bookings, confirming a cancellation');
    await screenshot(traveller.page, 'bookings');
    await traveller.page.getByRole('button', { name: 'Really cancel?' }).click();
    await until(async () => expect(await traveller.page.getByRole('listitem').first().innerText()).toMatch(/Refund pending|Refunded/), { what: 'the refund on the cancelled booking' });
    await axeCheck(traveller.page, 'my bookings, a cancelled booking and its refund');
  });

  it('admin: flights', async () => {
    await open(admin.page, '#/admin', 'Admin: flights', { reload: true });
    await admin.page.getByRole('heading', { level: 2, name: 'New flight' }).waitFor();
    await axeCheck(admin.page, 'admin flights');
    await screenshot(admin.page, 'admin-flights');
  });

  it('admin: one flight, with a migration report and its conflicts', async () => {
    const holder = await registerUser('axe-holder');
    const held = await api('POST', `/flights/${adminFlight.id}/holds`, { token: holder.accessToken, body: { seats: ['1A'] } });
    expect(held.status).toBe(201);
    await open(admin.page, `#/admin/flights/${adminFlight.id}`, `Manage ${adminFlight.flightNumber}`, { reload: true });
    await axeCheck(admin.page, 'admin flight');
    await screenshot(admin.page, 'admin-flight');
    const textarea = admin.page.getByLabel('Seat map (one seat per line: id class price)');
    const text = await until(async () => {
      const value = await textarea.inputValue();
      if (!value.includes('1A ')) throw new Error('the seat map text is not loaded yet');
      return value;
    }, { what: 'the seat map text' });
    await textarea.fill(text.split('\n').filter((line) => !line.startsWith('1A ')).join('\n'));
    const policy = admin.page.getByLabel('When a held or booked seat is dropped');
    const keep = (await policy.locator('option').allInnerTexts()).find((label) => /keep/i.test(label))!;
    await policy.selectOption({ label: keep });
    await admin.page.getByRole('button', { name: 'Submit migration' }).click();
    await admin.page.getByRole('table', { name: 'Conflicts' }).getByRole('row').filter({ hasText: '1A' }).waitFor({ timeout: 30_000 });
    await axeCheck(admin.page, 'admin flight with a migration report');
    // The migration form and its report, in one screen.
    await admin.page.getByText('When a held or booked seat is dropped', { exact: true }).evaluate((label: any) => label.scrollIntoView({ block: 'start' }));
    await screenshot(admin.page, 'admin-migration');
  });

  it('admin: users', async () => {
    await open(admin.page, '#/admin/users', 'Admin: users', { reload: true });
    await admin.page.getByRole('table', { name: 'Users' }).waitFor();
    await showMoreUntil(admin.page, admin.page.getByRole('row').filter({ hasText: '(you)' }), 'the admin\'s own row');
    await axeCheck(admin.page, 'admin users');
    await screenshot(admin.page, 'admin-users');
  });

  it('admin: registry', async () => {
    await open(admin.page, '#/admin/registry', 'Admin: registry', { reload: true });
    await admin.page.getByRole('table').first().waitFor();
    await axeCheck(admin.page, 'admin registry');
    await screenshot(admin.page, 'admin-registry');
  });

  it('page not found', async () => {
    await open(anonymous.page, '#/no/such/page', 'Page not found', { reload: true });
    await axeCheck(anonymous.page, 'page not found');
  });
});
