import { PAYMENT_KEY } from '../../lib/ids';
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
      // One currency per flight: a hold's total is the sum of its seats' prices (API.md, Checkout).
      const currency = map.seats[0]?.price.currency;
      map.seats.forEach((seat, index) => {
        if (seen.has(seat.id)) ctx.addIssue({ code: 'custom', input: seat.id, path: ['seats', index, 'id'], message: `seat ${seat.id} appears twice` });
        if (seat.price.currency !== currency) ctx.addIssue({ code: 'custom', input: seat.price.currency, path: ['seats', index, 'price', 'currency'], message: `every seat must be priced in ${currency}, like the first` });
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
  /** The sum of the seats' prices when the hold was made (a migration changes a held seat's price only once it is free). */
  total?: Money;
  /** The payment in flight for this hold (lua.ts, CHECKOUT_BEGIN). */
  checkout?: Checkout;
  /** Payment attempts that ended declined: the next one's key counts on from here. */
  attempts?: number;
}

export interface Checkout extends CheckoutDetails {
  attempt: number;
  /** What the charge is made and recorded under at the payments service: `<holdId>.<attempt>`. */
  paymentKey: string;
  total: Money;
  startedAtMs: number;
  /** The fingerprint of the request that started it (its Idempotency-Key's), so that request, repeated, gets the booking. */
  fingerprint?: string;
}

export interface BookedSeat {
  id: string;
  class: SeatClass;
  price: Money;
}

export interface Passenger {
  seat: string;
  firstName: string;
  lastName: string;
}

export interface Contact {
  email: string;
  phone?: string;
}

export type PaymentStatus = 'succeeded' | 'refund_pending' | 'refunded';

/** The payment a booking was paid with (the payments service has the whole record). */
export interface BookingPayment {
  provider: string;
  paymentId: string;
  /** The payments service's key for the charge (functions/payments): how refunds name it. */
  paymentKey: string;
  status: PaymentStatus;
  refundedAt?: string;
}

export interface Booking {
  bookingId: string;
  /** The record locator travellers quote (functions/seats/references.ts). */
  reference: string;
  flightId: string;
  userId: string;
  seats: BookedSeat[];
  passengers: (Passenger & { ticketNumber: string })[];
  contact: Contact;
  total: Money;
  payment: BookingPayment;
  status: 'confirmed' | 'cancelled' | 'flight_cancelled';
  createdAt: string;
  cancelledAt?: string;
  holdId: string;
}

/** What a checkout carries from its start to its booking (kept on the hold while the payment runs). */
export interface CheckoutDetails {
  passengers: Passenger[];
  contact: Contact;
  paymentMethod?: string;
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

const instant = z.iso.datetime({ offset: true });
export const provisionSeatsBody = z.strictObject({ seatMapVersion: z.number().check(z.int(), z.gte(1)), departureTime: instant, seatMap: seatMapInput });
export const scheduleBody = z.strictObject({ departureTime: instant });
const scheduleTimes = z.strictObject({ departureTime: instant, arrivalTime: instant });
export const retimeBody = z.strictObject({ changeId: z.string().check(z.regex(/^[A-Za-z0-9_.:-]{1,64}$/)), previous: scheduleTimes, current: scheduleTimes });
export const settleCheckoutBody = z.strictObject({ paymentKey: z.string().check(z.regex(PAYMENT_KEY)), provider: z.string().check(z.minLength(1), z.maxLength(40)), paymentId: z.string().check(z.minLength(1), z.maxLength(255)) });
export const lookupQuery = z.strictObject({
  // Anything a person might type: a reference that is not one is a mismatch like any other (404).
  reference: z.string().check(z.minLength(1), z.maxLength(128)),
  lastName: z.string().check(z.minLength(1), z.maxLength(50)),
});

export const applySeatMapBody = z.strictObject({
  /** The migrator's fence token: greater than the last one applied to this flight, or the apply is refused. */
  fenceToken: z.number().check(z.int(), z.gte(1)),
  policy: z.enum(MIGRATION_POLICIES),
  seatMap: seatMapInput,
});

// Trimmed first; then letters of any script (with their combining marks), spaces, hyphens and apostrophes.
const personName = z
  .string()
  .check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(50, 'must be at most 50 characters'), z.regex(/^[\p{L}\p{M}][\p{L}\p{M} '’-]*$/u, "may hold letters, spaces, - and ' only"));

export const checkoutBody = z.strictObject({
  passengers: z.array(z.strictObject({ seat: seatId, firstName: personName, lastName: personName })).check(z.minLength(1), z.maxLength(HOLD_LIMIT_PER_USER)),
  contact: z.strictObject({
    email: z.string().check(z.maxLength(254), z.email('must be an email address')),
    phone: z.optional(z.string().check(z.regex(/^\+?[0-9 ()-]{5,20}$/, 'must be a phone number'))),
  }),
  /** The provider's payment method id (`pm_…`); only a total of 0 may leave it out. */
  paymentMethod: z.optional(z.string().check(z.regex(/^pm_[A-Za-z0-9_]{1,100}$/, 'must be a payment method id like pm_card_visa'))),
});
