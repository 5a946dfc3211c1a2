import * as z from '../../lib/validation';

/**
 * The notifications service's shapes (API.md, "Notifications (email)"). Other services hand it events
 * (`POST /internal/notifications`); it keeps one delivery record per event and turns each into one
 * email. An event's `id` is made by the service that recorded it, from what happened (a booking's
 * confirmation, a flight's time change and the booking it concerns…), so the same event handed over
 * twice is one delivery.
 */

export const NOTIFICATION_KINDS = ['booking-confirmed', 'booking-cancelled', 'flight-cancelled', 'flight-retimed', 'password-reset', 'password-changed'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

const text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
const email = z.string().check(z.minLength(3), z.maxLength(254), z.regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address'));
const isoTime = z.iso.datetime({ offset: true });
const money = z.strictObject({ amount: z.number().check(z.int(), z.gte(0)), currency: z.string().check(z.regex(/^[A-Z]{3}$/)) });
export type NoticeMoney = z.infer<typeof money>;

/** What an email about a booking shows of it: never its payment method, user id or payment ids. */
export const bookingNotice = z.strictObject({
  bookingId: text(100),
  reference: text(12),
  flightId: text(40),
  passengers: z.array(z.strictObject({ seat: text(5), firstName: text(50), lastName: text(50), ticketNumber: text(20) })).check(z.maxLength(9)),
  seats: z.array(z.strictObject({ id: text(5), class: text(20) })).check(z.maxLength(9)),
  total: money,
  /** What is refunded (booking and flight cancellations): the total, on its way back. */
  refund: z.optional(money),
});
export type BookingNotice = z.infer<typeof bookingNotice>;

export const scheduleTimes = z.strictObject({ departureTime: isoTime, arrivalTime: isoTime });
export type ScheduleTimes = z.infer<typeof scheduleTimes>;

const eventId = z.string().check(z.regex(/^[A-Za-z0-9_.:-]{8,200}$/, 'must be an event id'));
const base = { id: eventId, to: email };

export const notificationEvent = z.discriminatedUnion('kind', [
  z.strictObject({ ...base, kind: z.literal('booking-confirmed'), booking: bookingNotice }),
  z.strictObject({ ...base, kind: z.literal('booking-cancelled'), booking: bookingNotice }),
  z.strictObject({ ...base, kind: z.literal('flight-cancelled'), booking: bookingNotice }),
  z.strictObject({ ...base, kind: z.literal('flight-retimed'), booking: bookingNotice, previous: scheduleTimes, current: scheduleTimes }),
  /** `token` is the reset's own single-use token: the email's link carries it, and nothing else does. */
  z.strictObject({ ...base, kind: z.literal('password-reset'), name: text(100), token: z.string().check(z.regex(/^[A-Za-z0-9_-]{32,128}$/)), expiresAt: isoTime }),
  z.strictObject({ ...base, kind: z.literal('password-changed'), name: text(100), how: z.enum(['changed', 'reset']), at: isoTime }),
]);
export type NotificationEvent = z.infer<typeof notificationEvent>;
export type BookingEvent = Extract<NotificationEvent, { booking: BookingNotice }>;

/** At most this many events per hand-over: a flight cancellation's hundreds of bookings come in batches. */
export const MAX_EVENTS_PER_INTAKE = 100;
export const intakeBody = z.strictObject({ events: z.array(notificationEvent).check(z.minLength(1), z.maxLength(MAX_EVENTS_PER_INTAKE)) });

/** The flight as an email shows it (the sender reads it from the flights service). */
export interface FlightSummary {
  flightNumber: string;
  origin: string;
  destination: string;
  departureTime: string;
  arrivalTime: string;
}

/**
 * Everything a template needs: the event, the flight of a booking event (its current schedule), and
 * the web app's URL that links start from (`<webAppUrl>#/bookings/<id>`, `<webAppUrl>#/reset?token=…`).
 */
export type EmailInput = NotificationEvent & { flight?: FlightSummary; webAppUrl: string };

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}
