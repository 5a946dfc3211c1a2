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
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** A random flight number (two letters, four digits, a letter): collisions would make FLIGHT_EXISTS flaky. */
export const flightNumber = () => {
  const [a, b, c, d, e] = randomBytes(5);
  return `${LETTERS[a! % 26]}${LETTERS[b! % 26]}${1000 + (((c! << 8) | d!) % 9000)}${LETTERS[e! % 26]}`;
};

import type { SeatsGateway } from '../../functions/flights/seats-client';
import type { SeatService } from '../../functions/seats/service';

/**
 * The flights service's gateway to a real seats service running in this process (over the test
 * redis-server): everything but the HTTP hop, which the end-to-end tests cover.
 */
export function seatsInProcess(seats: SeatService): SeatsGateway {
  return {
    provision: async (id, version, map) => void (await seats.provision(id, version, map)),
    cancelFlight: (id) => seats.cancelFlight(id),
    applySeatMap: (id, args) => seats.applySeatMap(id, args),
  };
}
