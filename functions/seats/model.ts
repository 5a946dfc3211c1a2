import * as z from '../../lib/validation';

/** The seats service's shapes (API.md, "Seats, holds and bookings"). */

export const MIGRATION_POLICIES = ['reject', 'keep'] as const;
export type MigrationPolicy = (typeof MIGRATION_POLICIES)[number];

export const SEAT_CLASSES = ['economy', 'premium', 'business', 'first'] as const;
export type SeatClass = (typeof SEAT_CLASSES)[number];

export const money = z.strictObject({
  amount: z.number().check(z.int(), z.gte(0), z.lte(100_000_000)),
  currency: z.string().check(z.regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code')),
});
export type Money = z.infer<typeof money>;

export const seatId = z.string().check(z.regex(/^[1-9][0-9]{0,2}[A-K]$/, 'must be a seat id like 12A'));

export const seatMapInput = z
  .strictObject({
    // Seat ids are unique (the refinement below); JSON Schema can only say that whole entries are.
    seats: z.documentedAs(
      z.array(z.strictObject({ id: seatId, class: z.enum(SEAT_CLASSES), price: money })).check(z.minLength(1, 'needs at least one seat'), z.maxLength(1000, 'may have at most 1000 seats')),
      { uniqueItems: true },
    ),
  })
  .check(
    z.superRefine((map, ctx) => {
      const seen = new Set<string>();
      map.seats.forEach((seat, index) => {
        if (seen.has(seat.id)) ctx.addIssue({ code: 'custom', input: seat.id, path: ['seats', index, 'id'], message: `seat ${seat.id} appears twice` });
        seen.add(seat.id);
      });
    }),
  );
export type SeatMapInput = z.infer<typeof seatMapInput>;

export type SeatStatus = 'available' | 'held' | 'booked';

export interface SeatView {
  id: string;
  class: SeatClass;
  price: Money;
  status: SeatStatus;
}

export interface SeatMapView {
  flightId: string;
  version: number;
  seatMapVersion: number;
  status: 'scheduled' | 'cancelled';
  seats: SeatView[];
  counts: { available: number; held: number; booked: number; total: number };
}

export type HoldStatus = 'active' | 'confirmed' | 'released' | 'expired' | 'voided';

export interface HoldRecord {
  holdId: string;
  userId: string;
  seats: string[];
  expiresAtMs: number;
  createdAt: string;
  status: HoldStatus;
  bookingId?: string;
  /** In the hold cap's count (holds made before the cap existed are not). */
  counted?: boolean;
}

export interface BookedSeat {
  id: string;
  class: SeatClass;
  price: Money;
}

export interface Booking {
  bookingId: string;
  flightId: string;
  userId: string;
  seats: BookedSeat[];
  status: 'confirmed' | 'cancelled' | 'flight_cancelled';
  createdAt: string;
  cancelledAt?: string;
  holdId: string;
}

/** Seats sort by row number, then letter: 2A before 10A. */
export function compareSeatIds(a: string, b: string): number {
  return parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b);
}

/** How a seat's class and price are stored: one canonical JSON encoding. */
export const seatInfo = (seat: { class: SeatClass; price: Money }) =>
  JSON.stringify({ class: seat.class, price: { amount: seat.price.amount, currency: seat.price.currency } });


export interface MigrationConflict {
  seat: string;
  status: 'held' | 'booked';
  resolution: string;
}

/** What applying a new seat map did (or, with conflicts under `reject`, would have had to do). */
export interface MigrationOutcome {
  fromVersion: number;
  toVersion: number;
  added: number;
  removed: number;
  changed: number;
  conflicts: MigrationConflict[];
}

/** The most seats one person may hold on one flight at a time, all their live holds together (API.md). */
export const HOLD_LIMIT_PER_USER = 9;

export const holdBody = z
  .strictObject({
    seats: z.documentedAs(z.array(seatId).check(z.minLength(1, 'hold at least 1 seat'), z.maxLength(HOLD_LIMIT_PER_USER, `hold at most ${HOLD_LIMIT_PER_USER} seats`)), {
      uniqueItems: true,
    }),
  })
  .check(z.refine((b) => new Set(b.seats).size === b.seats.length, { message: 'lists a seat twice', path: ['seats'] }));

export const provisionSeatsBody = z.strictObject({ seatMapVersion: z.number().check(z.int(), z.gte(1)), seatMap: seatMapInput });

export const applySeatMapBody = z.strictObject({
  /** The migrator's fence token: greater than the last one applied to this flight, or the apply is refused. */
  fenceToken: z.number().check(z.int(), z.gte(1)),
  policy: z.enum(MIGRATION_POLICIES),
  seatMap: seatMapInput,
});
