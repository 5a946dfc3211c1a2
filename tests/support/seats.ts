import { randomBytes } from 'node:crypto';
import { newFlightId } from '../../lib/ids';
import type { SeatMapInput } from '../../functions/seats/model';

/** Seat maps for tests: `rows` rows of seats A..(letters), all economy at 100.00 USD. */
export function seatMap(rows: number, letters = 'ABCDEF'): SeatMapInput {
  return {
    seats: Array.from({ length: rows }, (_, r) => [...letters].map((l) => ({ id: `${r + 1}${l}`, class: 'economy' as const, price: { amount: 10_000, currency: 'USD' } }))).flat(),
  };
}

export const testFlightId = newFlightId;
/** A departure far enough ahead that sales are open for the whole test run. */
export const ON_SALE_DEPARTURE = '2035-01-01T00:00:00.000Z';
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** A random flight number (two letters, four digits, a letter): collisions would make FLIGHT_EXISTS flaky. */
export const flightNumber = () => {
  const [a, b, c, d, e] = randomBytes(5);
  return `${LETTERS[a! % 26]}${LETTERS[b! % 26]}${1000 + (((c! << 8) | d!) % 9000)}${LETTERS[e! % 26]}`;
};

/** A checkout body (API.md, Checkout): a passenger per seat, a contact, Stripe's test Visa or the given test method. */
export function checkoutFor(seats: string[], paymentMethod = 'pm_card_visa') {
  return {
    passengers: seats.map((seat, i) => ({ seat, firstName: 'Test', lastName: `Traveller${'ABCDEFGHI'[i]}` })),
    contact: { email: 'traveller@example.com' },
    paymentMethod,
  };
}
