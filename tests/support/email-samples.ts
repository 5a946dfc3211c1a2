import type { BookingNotice, EmailInput, FlightSummary, NotificationKind } from '../../functions/notifications/model';

/** One email of each kind, as the notifications service could be handed it: the template tests' inputs and the screenshots' (scripts/email-screenshots.ts). */

export const SAMPLE_BOOKING_ID = 'b_fl-3f9a1c2e4b6d8a0f_Xq7LmP2vR9sT4wYz';
export const SAMPLE_RESET_TOKEN = 'q3VfT8kLw2ZpN6xRb1YcJ9sHd4MgA7eU-_Zk';
export const sampleFlight: FlightSummary = { flightNumber: 'FB 123', origin: 'LHR', destination: 'JFK', departureTime: '2026-12-14T09:30:00Z', arrivalTime: '2026-12-14T17:45:00Z' };

export const sampleBooking = (extra: Partial<BookingNotice> = {}): BookingNotice => ({
  bookingId: SAMPLE_BOOKING_ID,
  reference: 'K7MQ2X',
  flightId: 'fl-3f9a1c2e4b6d8a0f',
  passengers: [
    { seat: '12A', firstName: 'Ada', lastName: 'Lovelace', ticketNumber: '1254830000012' },
    { seat: '12B', firstName: 'Grace', lastName: 'Hopper', ticketNumber: '1254830000013' },
  ],
  seats: [
    { id: '12A', class: 'economy' },
    { id: '12B', class: 'economy' },
  ],
  total: { amount: 84_600, currency: 'EUR' },
  ...extra,
});

export function sampleEmails(webAppUrl: string): Record<NotificationKind, EmailInput> {
  const flight = sampleFlight;
  const base = { id: 'event:0001', to: 'ada@example.com', webAppUrl };
  const account = { ...base, name: 'Ada Lovelace' };
  return {
    'booking-confirmed': { ...base, kind: 'booking-confirmed', booking: sampleBooking(), flight },
    'booking-cancelled': { ...base, kind: 'booking-cancelled', booking: sampleBooking({ refund: { amount: 84_600, currency: 'EUR' } }), flight },
    'flight-cancelled': { ...base, kind: 'flight-cancelled', booking: sampleBooking({ total: { amount: 91_250, currency: 'USD' }, refund: { amount: 91_250, currency: 'USD' } }), flight },
    'flight-retimed': {
      ...base,
      kind: 'flight-retimed',
      booking: sampleBooking(),
      previous: { departureTime: '2026-12-14T08:15:00Z', arrivalTime: '2026-12-14T16:30:00Z' },
      current: { departureTime: flight.departureTime, arrivalTime: flight.arrivalTime },
      flight,
    },
    'password-reset': { ...account, kind: 'password-reset', token: SAMPLE_RESET_TOKEN, expiresAt: '2026-12-07T10:30:00Z' },
    'password-changed': { ...account, kind: 'password-changed', how: 'changed', at: '2026-12-07T10:12:00Z' },
  };
}
