import { inbox } from '../support/inbox';
import { api, registerUser, uniqueEmail } from '../support/http';
import { alertText, appUrl, axeCheck, createFlight, loginViaUi, open, registerAndLogin } from '../support/browser';
import type { Page } from 'playwright-core';
import { bookViaApi } from './checkout-steps';
import { usePeople } from './people';

/**
 * The account pages in chromium against the running stack: "Forgot password?" from the login page,
 * the reset link read from the email (the test stack's SES emulator) and used once, changing the
 * password on `#/account` (a wrong current password beside its field, the session kept), and the
 * booking page saying where its confirmation was emailed. axe on each page, in each state.
 */

jest.setTimeout(90_000);

const newPassword = 'a brand new passphrase';
const RESET_LINK = /#\/reset\?token=[A-Za-z0-9_-]+/;

/** The field's error as a screen reader reaches it: the input is invalid and describes itself with it. */
async function fieldError(page: Page, label: string): Promise<string> {
  const input = page.getByLabel(label, { exact: true });
  await page.waitForFunction((id) => (globalThis as any).document.getElementById(id)?.getAttribute('aria-invalid') === 'true', await input.getAttribute('id'));
  const describedBy = ((await input.getAttribute('aria-describedby')) ?? '').split(' ').filter(Boolean);
  const texts = await Promise.all(describedBy.map((id) => page.locator(`[id="${id}"]`).innerText()));
  return texts.join(' ');
}

describe('the account pages', () => {
  const person = usePeople();

  it('forgot password → the emailed link → a new password, once; then log in with it', async () => {
    const { page } = await person();
    const account = await registerUser('webreset');

    await open(page, '#/login', 'Log in');
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.getByRole('heading', { level: 1, name: 'Forgot your password?' }).waitFor();
    await axeCheck(page, 'forgot password');
    // The form's own check first: nothing is sent, the problem is beside the field.
    await page.getByLabel('Email', { exact: true }).fill('not an address');
    await page.getByRole('button', { name: 'Send reset link' }).click();
    expect(await fieldError(page, 'Email')).toContain('Enter an email address like name@example.com.');
    await axeCheck(page, 'forgot password, field error');

    await page.getByLabel('Email', { exact: true }).fill(account.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByText('If an account exists for that address, we’ve sent a link').waitFor();
    await axeCheck(page, 'forgot password, sent');

    const [email] = await inbox().waitFor({ to: account.email, subjectIncludes: 'Reset your password' });
    const link = RESET_LINK.exec(email!.text)?.[0];
    expect(link).toBeDefined();
    await page.goto(appUrl(link!));
    await page.getByRole('heading', { level: 1, name: 'Choose a new password' }).waitFor();
    await axeCheck(page, 'reset password');

    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('New password again', { exact: true }).fill('something else entirely');
    await page.getByRole('button', { name: 'Set new password' }).click();
    expect(await fieldError(page, 'New password again')).toContain('The two passwords differ');
    await axeCheck(page, 'reset password, field error');

    await page.getByLabel('New password again', { exact: true }).fill(newPassword);
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
    await alertText(page, 'Log in with your new password');
    await loginViaUi(page, account.email, newPassword);

    // The link worked once: a second use says so, and offers a new one.
    await page.goto(appUrl(link!));
    await page.getByRole('heading', { level: 1, name: 'Choose a new password' }).waitFor();
    await page.getByLabel('New password', { exact: true }).fill('yet another passphrase');
    await page.getByLabel('New password again', { exact: true }).fill('yet another passphrase');
    await page.getByRole('button', { name: 'Set new password' }).click();
    await alertText(page, 'This reset link is unknown, used or expired');
    await page.getByRole('link', { name: 'Ask for a new link' }).waitFor();
  });

  it('answers an unknown address with the same sentence', async () => {
    const { page } = await person();
    await open(page, '#/forgot', 'Forgot your password?');
    await page.getByLabel('Email', { exact: true }).fill(uniqueEmail('nobody'));
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByText('If an account exists for that address, we’ve sent a link').waitFor();
  });

  it('changes the password on #/account: a wrong current one beside its field, then the notice, still signed in', async () => {
    const { page } = await person();
    const account = await registerAndLogin(page, 'webchange');
    // Another device's session, which the change ends.
    const other = await api('POST', '/auth/login', { body: { email: account.email, password: account.password } });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
    await axeCheck(page, 'account');

    await page.getByLabel('Current password', { exact: true }).fill('not my password');
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByRole('button', { name: 'Change password' }).click();
    expect(await fieldError(page, 'Current password')).toContain('The current password is wrong.');
    // A wrong password is not an expired session: still signed in.
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await axeCheck(page, 'account, wrong current password');

    await page.getByLabel('Current password', { exact: true }).fill(account.password);
    await page.getByRole('button', { name: 'Change password' }).click();
    await alertText(page, 'Your password was changed; other devices were signed out');
    expect((await api('POST', '/auth/refresh', { body: { refreshToken: other.body.refreshToken } })).status).toBe(401);

    // This tab's session goes on, through a refresh of its own token too.
    await page.evaluate(() => (globalThis as any).sessionStorage.removeItem('flight-booking.accessToken'));
    await open(page, '#/bookings', 'My bookings');
    await page.getByRole('button', { name: 'Log out' }).waitFor();
  });

  it('sends people who are not signed in from #/account to the login page', async () => {
    const { page } = await person();
    await open(page, '#/account', 'Log in');
    expect(page.url()).toContain('next=%2Faccount');
  });

  it('says on the booking page where the confirmation was emailed', async () => {
    const { page } = await person();
    const flight = await createFlight({ rows: 2 });
    const { user, booking } = await bookViaApi(flight, { '1A': ['Ada', 'Lovelace'] });
    await loginViaUi(page, user.email, user.password);
    await open(page, `#/bookings/${booking.bookingId}`, 'Booking confirmed');
    await page.getByText(`Confirmation sent to ${user.email}`).waitFor();
    await axeCheck(page, 'booking with its confirmation address');
  });
});
