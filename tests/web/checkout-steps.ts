import type { Page } from 'playwright-core';
import { api, registerUser } from '../support/http';
import type { TestFlight } from '../support/browser';

/**
 * The checkout's steps for the web tests (web/src/pages/checkout.ts): each seat's passenger by the
 * labels a screen reader reads ("Seat 1A — First name"), a test card by its name, and a booking made
 * over the API alone for the pages that only read one.
 */

export type Names = Record<string, [firstName: string, lastName: string]>;

export async function fillPassengers(page: Page, names: Names): Promise<void> {
  for (const [seat, [firstName, lastName]] of Object.entries(names)) {
    await page.getByLabel(`Seat ${seat} — First name`, { exact: true }).fill(firstName);
    await page.getByLabel(`Seat ${seat} — Last name`, { exact: true }).fill(lastName);
  }
}

/** Picks a test card ("Visa (succeeds)", "Declined card", …) and presses Pay. */
export async function payWith(page: Page, card: string): Promise<void> {
  await page.getByRole('radio', { name: card, exact: true }).check();
  await page.getByRole('button', { name: /^Pay / }).click();
}

/** The booking page's reference, once it shows one. */
export async function shownReference(page: Page): Promise<string> {
  const code = page.locator('.reference-code').first();
  await code.waitFor();
  return (await code.innerText()).trim();
}

/** The booking page's passengers table, as [passenger, seat, ticket number] rows. */
export async function passengerRows(page: Page): Promise<string[][]> {
  const table = page.getByRole('table', { name: 'Passengers' });
  await table.waitFor();
  return table.locator('tbody tr').evaluateAll((rows) => rows.map((row: any) => [...row.children].map((cell: any) => String(cell.textContent).trim())));
}

export const REFERENCE = /^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$/;
export const TICKET_NUMBER = /^\d{13}$/;

/** The confirm's body for a hold of `seats`: a passenger each, a contact, Stripe's test Visa. */
export function checkoutBody(seats: string[], email = 'traveller@example.com') {
  return { passengers: seats.map((seat) => ({ seat, firstName: 'Test', lastName: 'Traveller' })), contact: { email }, paymentMethod: 'pm_card_visa' };
}

/** A booking made over the API by a new account: a hold of `seats`, paid with Visa. */
export async function bookViaApi(flight: TestFlight, names: Names) {
  const user = await registerUser('booker');
  const seats = Object.keys(names);
  const hold = await api('POST', `/flights/${flight.id}/holds`, { token: user.accessToken, body: { seats } });
  if (hold.status !== 201) throw new Error(`hold: ${hold.status} ${JSON.stringify(hold.body)}`);
  const passengers = Object.entries(names).map(([seat, [firstName, lastName]]) => ({ seat, firstName, lastName }));
  const confirm = await api('POST', `/holds/${hold.body.holdId}/confirm`, {
    token: user.accessToken,
    body: { passengers, contact: { email: user.email }, paymentMethod: 'pm_card_visa' },
  });
  if (confirm.status !== 201) throw new Error(`confirm: ${confirm.status} ${JSON.stringify(confirm.body)}`);
  return { user, booking: confirm.body as { bookingId: string; reference: string; passengers: { seat: string; ticketNumber: string }[] } };
}
