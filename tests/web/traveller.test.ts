import { api, loginAdmin, registerUser, uniqueEmail } from '../support/http';
import { flightNumber } from '../support/seats';
import {
  alertText,
  appUrl,
  createFlight,
  open,
  registerAndLogin,
  seat,
  seatLabel,
  seatsMatchedAt,
  tabTo,
  until,
  watchSeats,
  type TestFlight,
} from '../support/browser';
import type { Page } from 'playwright-core';
import { bookViaApi, fillPassengers, passengerRows, payWith, REFERENCE, shownReference, TICKET_NUMBER } from './checkout-steps';
import { usePeople } from './people';

/**
 * The traveller's pages in chromium against the running stack (sls offline, real services): two people
 * watching one flight's live seat map, the hold and booking journey with the mouse and with the
 * keyboard alone, my bookings and cancelling, signing up, in and out, searching, and API errors shown
 * as sentences.
 */

jest.setTimeout(90_000);

/**
 * Presses Tab until the focused field is the one a label names (its <label>'s text, as a screen reader
 * reads it): form fields have no text of their own for tabTo to match.
 */
async function tabToField(page: Page, label: string, max = 40): Promise<void> {
  const seen: string[] = [];
  for (let presses = 1; presses <= max; presses += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const element = (globalThis as any).document.activeElement;
      return String(element?.labels?.[0]?.textContent ?? element?.textContent ?? '').trim();
    });
    seen.push(focused);
    if (focused === label) return;
  }
  throw new Error(`${max} Tab presses never reached the field ${label}; focus went through ${JSON.stringify(seen)}`);
}

describe('the traveller pages', () => {
  const person = usePeople();

  const isHoldRequest = (flight: TestFlight) => (response: { url(): string; request(): { method(): string } }) =>
    response.request().method() === 'POST' && new URL(response.url()).pathname.endsWith(`/flights/${flight.id}/holds`);

  it('two people watch one flight: A holds two seats, B sees them held within 1 s without a reload, B is refused one of them, A confirms and finds the booking', async () => {
    const flight = await createFlight({ rows: 4 });
    const [a, b] = [await person(), await person()];
    const [alice] = await Promise.all([registerAndLogin(a.page, 'alice'), registerAndLogin(b.page, 'bob')]);
    await Promise.all([a, b].map(({ page }) => open(page, `#/flights/${flight.id}`, new RegExp(flight.flightNumber))));
    // Both maps are live (the WebSocket is up), so what follows comes over it, not from a reload or a poll.
    await Promise.all([a, b].map(({ page }) => page.getByText('Live', { exact: true }).waitFor()));
    expect(await seatLabel(b.page, '1A')).toMatch(/^Seat 1A, economy, \$100\.00, available/);

    // B picks 1A before A holds it.
    await seat(b.page, '1A').click();
    await until(async () => expect(await seat(b.page, '1A').getAttribute('aria-pressed')).toBe('true'), { what: "B's 1A to be selected" });

    await seat(a.page, '1A').click();
    await seat(a.page, '1B').click();
    await watchSeats(b.page, { '1A': /taken by someone else/, '1B': /, held\b/ });
    const holdButton = a.page.getByRole('button', { name: 'Hold 2 seats' });
    const [holdResponse] = await Promise.all([a.page.waitForResponse(isHoldRequest(flight)), holdButton.click()]);
    expect(holdResponse.status()).toBe(201);
    await holdResponse.finished();
    // When the answer's last byte arrived in A's browser (wall clock, as the note in B's page).
    const timing = holdResponse.request().timing();
    const answeredAt = timing.responseEnd >= 0 ? timing.startTime + timing.responseEnd : Date.now();

    // B's map changes on its own: the note watchSeats left in B's page survives, so there was no reload.
    const shownAt = await seatsMatchedAt(b.page, 10_000);
    console.log(`[web] B's map showed A's hold ${Math.round(shownAt - answeredAt)} ms after A's hold was answered`);
    expect(shownAt - answeredAt).toBeLessThan(1_000);
    expect(await seatLabel(b.page, '1B')).toMatch(/, held\b/);
    expect(await seatLabel(b.page, '1A')).toMatch(/selected, taken by someone else/);
    expect(await seat(b.page, '1A').getAttribute('aria-pressed')).toBe('true');

    // A sees the hold: its panel, the countdown, and its seats as "your hold".
    await a.page.getByRole('heading', { level: 2, name: 'Your hold' }).waitFor();
    expect(await a.page.getByRole('timer').innerText()).toMatch(/Held for \d+:\d\d/);
    expect(await seatLabel(a.page, '1A')).toMatch(/your hold/);

    // B's attempt on a seat A holds: the API refuses it (409) and B reads why.
    const [refusal] = await Promise.all([b.page.waitForResponse(isHoldRequest(flight)), b.page.getByRole('button', { name: 'Hold 1 seat' }).click()]);
    expect(refusal.status()).toBe(409);
    await alertText(b.page, 'Sorry, that seat was taken meanwhile (1A). Pick another seat.');
    // Clicking a seat that is already held says so without asking the API.
    await seat(b.page, '1B').click();
    await alertText(b.page, 'Seat 1B is taken. Pick another seat.');

    // A checks out: a passenger per seat, the account's email, the hold's total and countdown, Visa.
    await watchSeats(b.page, { '1A': /booked/, '1B': /booked/ });
    await a.page.getByRole('link', { name: 'Check out' }).click();
    await a.page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
    expect(await a.page.getByLabel('Email').inputValue()).toBe(alice.email);
    expect(await a.page.getByRole('main').innerText()).toMatch(/Total: \$200\.00/);
    expect(await a.page.getByRole('timer').innerText()).toMatch(/Held for \d+:\d\d/);
    await a.page.getByRole('button', { name: 'Pay $200.00' }).waitFor();
    await fillPassengers(a.page, { '1A': ['Alice', 'Liddell'], '1B': ['Ada', 'Lovelace'] });
    await payWith(a.page, 'Visa (succeeds)');
    await a.page.getByRole('heading', { level: 1, name: 'Booking confirmed' }).waitFor();
    // The checkout's success says where the confirmation email went: the contact email of the form.
    await a.page.getByText(`Confirmation sent to ${alice.email}`).waitFor();
    const bookingId = decodeURIComponent(/#\/bookings\/([^/?]+)/.exec(a.page.url())?.[1] ?? '');
    expect(bookingId).not.toBe('');
    // The reference, large, and each passenger with their seat and ticket number; the amount paid.
    const reference = await shownReference(a.page);
    expect(reference).toMatch(REFERENCE);
    const rows = await passengerRows(a.page);
    expect(rows.map(([name, seat]) => [name, seat?.split(' ')[0]])).toEqual([['Alice Liddell', '1A'], ['Ada Lovelace', '1B']]);
    for (const [, , ticket] of rows) expect(ticket).toMatch(TICKET_NUMBER);
    expect(await a.page.getByRole('main').innerText()).toMatch(/Amount paid\s+\$200\.00/);
    await seatsMatchedAt(b.page, 10_000);

    await a.page.getByRole('link', { name: 'My bookings' }).click();
    await a.page.getByRole('heading', { level: 1, name: 'My bookings' }).waitFor();
    const card = a.page.getByRole('listitem').filter({ hasText: flight.flightNumber });
    await card.waitFor();
    expect(await card.innerText()).toMatch(/1A[\s\S]*1B/);
    expect(await card.innerText()).toContain(reference);
    expect(await card.innerText()).toMatch(/Alice Liddell \(1A, ticket \d{13}\)/);
    await card.getByRole('link', { name: 'View booking' }).click();
    await until(() => a.page.url().endsWith(`#/bookings/${encodeURIComponent(bookingId)}`) || a.page.url().endsWith(`#/bookings/${bookingId}`), { what: 'the booking page' });
  });

  it('books a seat with the keyboard alone, lists it in My bookings, and cancels it there (two steps)', async () => {
    const flight = await createFlight({ rows: 3 });
    const c = await person();
    const user = await registerAndLogin(c.page, 'keyboard');
    await open(c.page, `#/flights/${flight.id}`, new RegExp(flight.flightNumber));
    await c.page.getByText('Live', { exact: true }).waitFor();

    // The map is one Tab stop; the arrow keys move between seats; Space picks one, like any toggle button.
    await tabTo(c.page, /^Seat 1A,/);
    await c.page.keyboard.press('ArrowDown');
    await c.page.keyboard.press('ArrowRight');
    await c.page.keyboard.press('ArrowRight');
    await until(async () => expect(await c.page.evaluate('document.activeElement.getAttribute("aria-label")')).toMatch(/^Seat 2C,/), { what: 'focus on 2C' });
    await c.page.keyboard.press('Space');
    await until(async () => expect(await seat(c.page, '2C').getAttribute('aria-pressed')).toBe('true'), { what: '2C to be selected' });
    await tabTo(c.page, 'Hold 1 seat');
    await c.page.keyboard.press('Enter');
    await c.page.getByRole('heading', { level: 2, name: 'Your hold' }).waitFor();
    expect(await seatLabel(c.page, '2C')).toMatch(/your hold/);
    await tabTo(c.page, 'Check out');
    await c.page.keyboard.press('Enter');
    await c.page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
    // The checkout by keyboard: the first name is the first field, then the last name, the email
    // (already the account's), the phone, the cards (Space picks one), and Pay.
    await tabToField(c.page, 'Seat 2C — First name');
    await c.page.keyboard.type('Keyboard');
    await tabToField(c.page, 'Seat 2C — Last name');
    await c.page.keyboard.type('User');
    await tabToField(c.page, 'Visa (succeeds)');
    await c.page.keyboard.press('Space');
    await tabTo(c.page, 'Pay $100.00');
    await c.page.keyboard.press('Enter');
    await c.page.getByRole('heading', { level: 1, name: 'Booking confirmed' }).waitFor();

    const [booking] = (await api('GET', '/bookings', { token: user.accessToken })).body.items as { bookingId: string; status: string }[];
    expect(booking).toMatchObject({ seats: [{ id: '2C' }], status: 'confirmed' });

    await tabTo(c.page, 'My bookings', { backwards: true, max: 60 });
    await c.page.keyboard.press('Enter');
    await c.page.getByRole('heading', { level: 1, name: 'My bookings' }).waitFor();
    const card = c.page.getByRole('listitem').filter({ hasText: flight.flightNumber });
    await card.waitFor();
    expect(await card.innerText()).toMatch(/2C/);

    // Cancelling asks first; "Keep" changes nothing, "Really cancel?" cancels.
    await card.getByRole('button', { name: 'Cancel booking' }).click();
    await card.getByRole('button', { name: 'Keep' }).click();
    await card.getByRole('button', { name: 'Cancel booking' }).waitFor();
    expect((await api('GET', `/bookings/${booking!.bookingId}`, { token: user.accessToken })).body.status).toBe('confirmed');
    await card.getByRole('button', { name: 'Cancel booking' }).click();
    await card.getByRole('button', { name: 'Really cancel?' }).click();
    await until(async () => expect(await card.innerText()).toMatch(/cancelled/i), { what: 'the card to say cancelled' });
    // The payment is refunded: pending until the provider confirms it.
    expect(await card.innerText()).toMatch(/Refund pending|Refunded/);
    await alertText(c.page, /Your booking is cancelled\. Its seats are free again\. \$100\.00 will be refunded/);
    expect((await api('GET', `/bookings/${booking!.bookingId}`, { token: user.accessToken })).body.status).toBe('cancelled');
    // The seat is free again, on the map too.
    await open(c.page, `#/flights/${flight.id}`, new RegExp(flight.flightNumber));
    expect(await seatLabel(c.page, '2C')).toMatch(/available/);
  });

  it('checkout: the fields are checked beside them, a declined card says why and keeps the hold, another card is a new attempt and books', async () => {
    const flight = await createFlight({ rows: 2 });
    const p = await person();
    const user = await registerAndLogin(p.page, 'decline');
    await open(p.page, `#/flights/${flight.id}`, new RegExp(flight.flightNumber));
    await seat(p.page, '2D').click();
    await p.page.getByRole('button', { name: 'Hold 1 seat' }).click();
    await p.page.getByRole('link', { name: 'Check out' }).click();
    await p.page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
    const holdId = decodeURIComponent(/#\/holds\/([^/]+)\/checkout/.exec(p.page.url())?.[1] ?? '');
    const confirms: { key: string | undefined; body: any }[] = [];
    p.page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname.endsWith(`/holds/${holdId}/confirm`)) confirms.push({ key: request.headers()['idempotency-key'], body: request.postDataJSON() });
    });

    // Nothing filled in and no card: each problem beside its field, focus on the first, nothing sent.
    await p.page.getByRole('button', { name: 'Pay $100.00' }).click();
    await alertText(p.page, 'Please check the form: 3 fields need your attention.');
    const firstName = p.page.getByLabel('Seat 2D — First name', { exact: true });
    expect(await firstName.getAttribute('aria-invalid')).toBe('true');
    expect(await firstName.evaluate((input: any) => input === input.ownerDocument.activeElement)).toBe(true);
    expect(await p.page.getByText('Enter the first name.').isVisible()).toBe(true);
    expect(await p.page.getByText('Choose a card.').isVisible()).toBe(true);
    await fillPassengers(p.page, { '2D': ['Grace', 'O’Hara-Smith'] });
    await p.page.getByLabel('Phone (optional)').fill('not a phone');
    await payWith(p.page, 'Declined card');
    await alertText(p.page, 'Please check the form: one field needs your attention.');
    expect(confirms).toEqual([]);
    await p.page.getByLabel('Phone (optional)').fill('+44 20 7946 0958');

    // A declined card: its sentence, the checkout stays, and the hold is as it was.
    await payWith(p.page, 'Declined card');
    await alertText(p.page, 'Your card was declined. Choose another card and try again.');
    expect((await api('GET', `/holds/${holdId}`, { token: user.accessToken })).body).toMatchObject({ holdId, status: 'active', seats: ['2D'] });
    await payWith(p.page, 'Insufficient funds');
    await alertText(p.page, 'The card has insufficient funds. Choose another card and try again.');
    expect(await p.page.getByRole('timer').innerText()).toMatch(/Held for \d+:\d\d/);

    // Visa books it: the reference and the passenger's ticket.
    await payWith(p.page, 'Visa (succeeds)');
    await p.page.getByRole('heading', { level: 1, name: 'Booking confirmed' }).waitFor();
    expect(await shownReference(p.page)).toMatch(REFERENCE);
    const [row] = await passengerRows(p.page);
    expect(row?.[0]).toBe('Grace O’Hara-Smith');
    expect(row?.[2]).toMatch(TICKET_NUMBER);

    // Three attempts, three Idempotency-Keys; each carried the passenger, the contact and its card.
    expect(confirms.map(({ body }) => body.paymentMethod)).toEqual(['pm_card_chargeDeclined', 'pm_card_chargeDeclinedInsufficientFunds', 'pm_card_visa']);
    expect(new Set(confirms.map(({ key }) => key)).size).toBe(3);
    expect(confirms[2]!.body).toEqual({
      passengers: [{ seat: '2D', firstName: 'Grace', lastName: 'O’Hara-Smith' }],
      contact: { email: user.email, phone: '+44 20 7946 0958' },
      paymentMethod: 'pm_card_visa',
    });
  });

  it('money in the flight\'s currency (yen have no minor unit), and a free seat books without a payment step or method', async () => {
    const { accessToken } = await loginAdmin();
    const created = await api('POST', '/flights', {
      token: accessToken,
      body: {
        flightNumber: flightNumber(),
        origin: 'HND',
        destination: 'KIX',
        departureTime: '2027-08-01T01:00:00Z',
        arrivalTime: '2027-08-01T02:10:00Z',
        seatMap: { seats: [{ id: '1A', class: 'economy', price: { amount: 12000, currency: 'JPY' } }, { id: '1B', class: 'economy', price: { amount: 0, currency: 'JPY' } }] },
      },
    });
    expect(created.status).toBe(201);
    const flight = created.body as TestFlight;
    const y = await person();
    await registerAndLogin(y.page, 'yen');
    await open(y.page, `#/flights/${flight.id}`, new RegExp(flight.flightNumber));
    expect(await seatLabel(y.page, '1A')).toMatch(/^Seat 1A, economy, ¥12,000, available/);
    const confirms: any[] = [];
    y.page.on('request', (request) => {
      if (request.method() === 'POST' && /\/holds\/[^/]+\/confirm$/.test(new URL(request.url()).pathname)) confirms.push(request.postDataJSON());
    });

    // The free seat: nothing to pay, no cards, "Confirm booking", and no paymentMethod sent.
    await seat(y.page, '1B').click();
    await y.page.getByRole('button', { name: 'Hold 1 seat' }).click();
    await y.page.getByRole('link', { name: 'Check out' }).click();
    await y.page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
    expect(await y.page.getByRole('main').innerText()).toMatch(/Total: ¥0[\s\S]*There is nothing to pay/);
    expect(await y.page.getByRole('radio').count()).toBe(0);
    await fillPassengers(y.page, { '1B': ['Yuki', 'Tanaka'] });
    await y.page.getByRole('button', { name: 'Confirm booking' }).click();
    await y.page.getByRole('heading', { level: 1, name: 'Booking confirmed' }).waitFor();
    expect(confirms[0]).toEqual({ passengers: [{ seat: '1B', firstName: 'Yuki', lastName: 'Tanaka' }], contact: { email: expect.any(String) } });

    // The paid seat: ¥12,000, not ¥120.
    await open(y.page, `#/flights/${flight.id}`, new RegExp(flight.flightNumber));
    await seat(y.page, '1A').click();
    await y.page.getByRole('button', { name: 'Hold 1 seat' }).click();
    await y.page.getByRole('link', { name: 'Check out' }).click();
    await y.page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
    await fillPassengers(y.page, { '1A': ['Hana', 'Tanaka'] });
    await y.page.getByRole('button', { name: 'Pay ¥12,000' }).waitFor();
    await payWith(y.page, 'Mastercard (succeeds)');
    await y.page.getByRole('heading', { level: 1, name: 'Booking confirmed' }).waitFor();
    expect(await y.page.getByRole('main').innerText()).toMatch(/Amount paid\s+¥12,000/);
  });

  it('manage booking: anyone finds a booking by its reference and a passenger\'s last name, without its contact details; a mismatch is one sentence', async () => {
    const flight = await createFlight({ rows: 2 });
    const { user, booking } = await bookViaApi(flight, { '1C': ['Maria', 'Sklodowska'], '1D': ['Pierre', 'Curie'] });
    const m = await person();
    await open(m.page, '#/', 'Search flights');
    await m.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Manage booking' }).click();
    await m.page.getByRole('heading', { level: 1, name: 'Manage booking' }).waitFor();

    // A wrong last name and a reference that is not one: the same sentence, which says neither.
    const notFound = 'We found no booking with that reference and last name. Check both and try again.';
    await m.page.getByLabel('Booking reference').fill(booking.reference.toLowerCase());
    await m.page.getByLabel('Last name').fill('Nobody');
    await m.page.getByRole('button', { name: 'Find booking' }).click();
    await alertText(m.page, notFound);
    await m.page.getByLabel('Booking reference').fill('0O1I');
    await m.page.getByRole('button', { name: 'Find booking' }).click();
    await alertText(m.page, notFound);

    // Any passenger's last name finds it (typed in lower case: the reference is upper-cased as typed).
    await m.page.getByLabel('Booking reference').fill(booking.reference.toLowerCase());
    await m.page.getByLabel('Last name').fill('Curie');
    await m.page.getByRole('button', { name: 'Find booking' }).click();
    await m.page.getByRole('heading', { level: 2, name: 'Your booking' }).waitFor();
    expect(await shownReference(m.page)).toBe(booking.reference);
    const rows = await passengerRows(m.page);
    expect(rows.map(([name, seat, ticket]) => [name, seat?.split(' ')[0], ticket])).toEqual(
      booking.passengers.map((p) => [p.seat === '1C' ? 'Maria Sklodowska' : 'Pierre Curie', p.seat, p.ticketNumber]),
    );
    const text = await m.page.getByRole('main').innerText();
    expect(text).toMatch(new RegExp(flight.flightNumber));
    expect(text).toMatch(/Amount paid\s+\$200\.00/);
    expect(text).not.toContain(user.email);
    expect(await m.page.locator('#messages').innerText()).toBe('');
  });

  it('a hold survives a reload of the page, and releasing it frees the seats on everyone\'s map', async () => {
    const flight = await createFlight({ rows: 2 });
    const [h, w] = [await person(), await person()];
    await registerAndLogin(h.page, 'holder');
    await Promise.all([h, w].map(({ page }) => open(page, `#/flights/${flight.id}`, new RegExp(flight.flightNumber))));
    await Promise.all([h, w].map(({ page }) => page.getByText('Live', { exact: true }).waitFor()));
    await seat(h.page, '2F').click();
    await h.page.getByRole('button', { name: 'Hold 1 seat' }).click();
    await h.page.getByRole('heading', { level: 2, name: 'Your hold' }).waitFor();
    await until(async () => expect(await seatLabel(w.page, '2F')).toMatch(/, held$/), { what: "the watcher's 2F to be held" });

    await h.page.reload();
    await h.page.getByRole('heading', { level: 2, name: 'Your hold' }).waitFor();
    expect(await seatLabel(h.page, '2F')).toMatch(/your hold/);
    expect(await h.page.getByRole('timer').innerText()).toMatch(/Held for \d+:\d\d/);

    await h.page.getByRole('button', { name: 'Release hold' }).click();
    await alertText(h.page, 'Your hold was released: seat 2F is free again.');
    expect(await h.page.getByRole('heading', { level: 2, name: 'Your hold' }).count()).toBe(0);
    await until(async () => expect(await seatLabel(h.page, '2F')).toMatch(/, available$/), { what: "the holder's 2F to be available" });
    await until(async () => expect(await seatLabel(w.page, '2F')).toMatch(/, available$/), { what: "the watcher's 2F to be available" });
  });

  it('signs up, logs out, refuses a wrong password with a sentence, logs in and comes back to the page that asked for it', async () => {
    const d = await person();
    const email = uniqueEmail('signup');
    const password = 'a long enough password';
    await open(d.page, '#/signup', 'Sign up');
    await d.page.getByLabel('Name').fill('Dana Traveller');
    await d.page.getByLabel('Email').fill(email);
    await d.page.getByLabel('Password').fill(password);
    await d.page.getByRole('button', { name: 'Create account' }).click();
    await d.page.getByRole('button', { name: 'Log out' }).waitFor();
    await d.page.getByRole('navigation', { name: 'Main' }).getByText('Dana Traveller').waitFor();
    await d.page.getByRole('link', { name: 'My bookings' }).waitFor();
    expect(await d.page.getByRole('link', { name: 'Admin' }).count()).toBe(0);

    // The same email again is refused with the API's sentence.
    await d.page.getByRole('button', { name: 'Log out' }).click();
    await alertText(d.page, 'You are logged out.');
    await d.page.getByRole('link', { name: 'Log in' }).waitFor();
    expect(await d.page.getByRole('link', { name: 'My bookings' }).count()).toBe(0);
    await open(d.page, '#/signup', 'Sign up');
    await d.page.getByLabel('Name').fill('Dana Again');
    await d.page.getByLabel('Email').fill(email);
    await d.page.getByLabel('Password').fill(password);
    await d.page.getByRole('button', { name: 'Create account' }).click();
    await alertText(d.page, 'An account with this email already exists. Log in instead.');

    // A page for signed-in people sends to the login form, which comes back to it afterwards.
    await d.page.goto(appUrl('#/bookings'));
    await d.page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
    await d.page.getByLabel('Email').fill(email);
    await d.page.getByLabel('Password').fill('not the password');
    await d.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await alertText(d.page, 'The email or password is wrong.');
    expect(await d.page.getByRole('button', { name: 'Log out' }).count()).toBe(0);
    await d.page.getByLabel('Password').fill(password);
    await d.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await d.page.getByRole('heading', { level: 1, name: 'My bookings' }).waitFor();
    await d.page.getByRole('button', { name: 'Log out' }).waitFor();

    // The session survives a reload of the tab (the refresh token is in sessionStorage).
    await d.page.reload();
    await d.page.getByRole('heading', { level: 1, name: 'My bookings' }).waitFor();
    await d.page.getByRole('button', { name: 'Log out' }).waitFor();
  });

  it('searches with the form, keeps the query in the address, and leads to the seat map', async () => {
    // A day of its own, so the results are this test's flight only.
    const day = `2027-${String(1 + (process.pid % 12)).padStart(2, '0')}-${String(1 + (Date.now() % 28)).padStart(2, '0')}`;
    const flight = await createFlight({ origin: 'CDG', destination: 'SFO', departureTime: `${day}T08:05:00Z`, arrivalTime: `${day}T19:20:00Z` });
    const e = await person();
    await open(e.page, '#/', 'Search flights');
    await e.page.getByLabel('From').fill('CDG');
    await e.page.getByLabel('To').fill('SFO');
    await e.page.getByLabel('Date').fill(day);
    await e.page.getByRole('button', { name: 'Search' }).click();
    const choose = e.page.getByRole('link', { name: `Choose seats on ${flight.flightNumber}` });
    await choose.waitFor();
    expect(decodeURIComponent(e.page.url())).toContain(`#/?origin=CDG&destination=SFO&date=${day}`);

    // The address alone brings the same results back (a shared link, a reload).
    const other = await person();
    await other.page.goto(appUrl(`#/?origin=CDG&destination=SFO&date=${day}`));
    await other.page.getByRole('link', { name: `Choose seats on ${flight.flightNumber}` }).waitFor();
    expect(await other.page.getByLabel('From').inputValue()).toBe('CDG');

    // A search that finds nothing says so.
    await e.page.getByLabel('To').fill('NRT');
    await e.page.getByRole('button', { name: 'Search' }).click();
    await until(async () => expect(await e.page.getByRole('main').innerText()).toMatch(/no flights/i), { what: 'the empty result' });

    await e.page.goBack();
    await choose.click();
    await e.page.getByRole('heading', { level: 1, name: new RegExp(flight.flightNumber) }).waitFor();
    expect(await seatLabel(e.page, '1A')).toMatch(/^Seat 1A, economy, \$100\.00, available/);
  });

  it('suggests the scheduled airports, offers the nearest days when a day has no flight, and shows times at each airport with its UTC offset', async () => {
    // A route of its own, in January: Paris is at UTC+01:00, Toronto at UTC-05:00.
    const flight = await createFlight({ origin: 'CDG', destination: 'YYZ', departureTime: '2027-01-20T09:05:00Z', arrivalTime: '2027-01-20T17:20:00Z' });
    const g = await person();
    await open(g.page, '#/', 'Search flights');
    const from = g.page.getByLabel('From');
    expect(await from.getAttribute('list')).toBe('airport-options');
    const suggestion = (code: string) => g.page.locator(`#airport-options option[value="${code}"]`);
    await until(async () => expect(await suggestion('YYZ').count()).toBe(1), { what: 'the airports as suggestions' });
    expect(await suggestion('CDG').textContent()).toBe('Paris — Paris Charles de Gaulle Airport');

    // The airport a code names is said under the field (its accessible description).
    await from.fill('CDG');
    await until(async () => expect(await g.page.locator(`#${await from.getAttribute('aria-describedby')}`).innerText()).toBe('Paris: Paris Charles de Gaulle Airport'), { what: "the origin's name" });
    await g.page.getByLabel('To').fill('YYZ');
    await g.page.getByLabel('Date').fill('2027-01-18');
    await g.page.getByRole('button', { name: 'Search' }).click();

    // Nothing on the 18th: the nearest days with flights are offered, and lead to them.
    await until(async () => expect(await g.page.getByRole('main').innerText()).toContain('No flights from Paris (CDG) to Toronto (YYZ) on Monday, January 18.'), { what: 'the empty day' });
    await g.page.getByRole('link', { name: 'Wednesday, January 20: 1 flight' }).click();
    await g.page.getByRole('link', { name: `Choose seats on ${flight.flightNumber}` }).waitFor();
    expect(decodeURIComponent(g.page.url())).toContain('#/?origin=CDG&destination=YYZ&date=2027-01-20');
    const times = await g.page.getByRole('listitem').filter({ hasText: flight.flightNumber }).innerText();
    expect(times).toMatch(/Departs Wed, Jan 20, 2027, 10:05 \(UTC\+01:00\) from Paris \(CDG\)/);
    expect(times).toMatch(/Arrives Wed, Jan 20, 2027, 12:20 \(UTC-05:00\) in Toronto \(YYZ\)/);
  });

  it('an anonymous visitor sees the live seat map and is asked to log in to hold, then comes back to the flight with the seats picked', async () => {
    const flight = await createFlight({ rows: 2 });
    const f = await person();
    await open(f.page, `#/flights/${flight.id}`, new RegExp(flight.flightNumber));
    await f.page.getByText('Live', { exact: true }).waitFor();
    await seat(f.page, '2B').click();
    const login = f.page.getByRole('button', { name: 'Log in to hold seats' });
    const user = await registerUser('anon');
    await login.click();
    await f.page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
    await f.page.getByLabel('Email').fill(user.email);
    await f.page.getByLabel('Password').fill(user.password);
    await f.page.getByRole('button', { name: 'Log in', exact: true }).click();
    await f.page.getByRole('heading', { level: 1, name: new RegExp(flight.flightNumber) }).waitFor();
    // What was picked before logging in is still picked, ready to hold.
    await until(async () => expect(await seat(f.page, '2B').getAttribute('aria-pressed')).toBe('true'), { what: '2B still selected' });
    await f.page.getByRole('button', { name: 'Hold 1 seat' }).click();
    await f.page.getByRole('heading', { level: 2, name: 'Your hold' }).waitFor();
  });

  it('the skip link moves focus to the content and leaves the page (and its live map) where it was', async () => {
    const flight = await createFlight({ rows: 2 });
    const g = await person();
    await open(g.page, `#/flights/${flight.id}`, new RegExp(flight.flightNumber));
    await g.page.getByText('Live', { exact: true }).waitFor();
    const address = g.page.url();
    // The skip link is the page's first tab stop; focus sits on the content after a route change, so it is focused directly.
    await g.page.getByRole('link', { name: 'Skip to content' }).focus();
    await g.page.keyboard.press('Enter');
    expect(await g.page.evaluate('document.activeElement.id')).toBe('main');
    expect(g.page.url()).toBe(address);
    await g.page.getByRole('heading', { level: 1, name: new RegExp(flight.flightNumber) }).waitFor();
    await g.page.getByText('Live', { exact: true }).waitFor();
  });
});
