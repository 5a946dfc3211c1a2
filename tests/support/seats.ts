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
export const flightNumber = () => `TS${100 + (randomBytes(2).readUInt16BE() % 9000)}`;
