import { auditPayments, type AuditedBooking } from '../../functions/payments/audit';
import type { PaymentRecord } from '../../functions/payments/model';

const LONG_AGO = '2026-01-01T00:00:00.000Z';
const JUST_NOW = '2026-12-07T12:00:00.000Z';
const SETTLED_BEFORE = '2026-12-07T11:59:00.000Z';

const payment = (key: string, changes: Partial<PaymentRecord> = {}): PaymentRecord => ({
  paymentKey: `h_${key}.1`,
  holdId: `h_${key}`,
  flightId: 'fl-0123456789abcdef',
  userId: 'u',
  amount: 10_000,
  currency: 'USD',
  paymentMethod: 'pm_card_visa',
  provider: 'stripe',
  status: 'succeeded',
  paymentId: `pi_${key}`,
  bookingId: `b_${key}`,
  createdAt: LONG_AGO,
  updatedAt: LONG_AGO,
  ...changes,
});
const booking = (key: string, changes: Partial<AuditedBooking> = {}): AuditedBooking => ({
  bookingId: `b_${key}`,
  status: 'confirmed',
  total: { amount: 10_000, currency: 'USD' },
  payment: { paymentKey: `h_${key}.1`, status: 'succeeded' },
  ...changes,
});
const audit = (payments: PaymentRecord[], bookings: AuditedBooking[]) => auditPayments(payments, bookings, SETTLED_BEFORE);

describe('the payments audit', () => {
  it('is ok when every charge is a confirmed booking of its total or refunded', () => {
    const report = audit(
      [payment('a'), payment('b', { status: 'refunded' }), payment('c', { status: 'declined', bookingId: undefined, paymentId: undefined })],
      [booking('a'), booking('b', { status: 'cancelled', payment: { paymentKey: 'h_b.1', status: 'refunded' } })],
    );
    expect(report).toEqual({ ok: true, counts: { payments: 2, bookings: 1, refunds: 1, inFlight: 0 }, problems: [] });
  });

  it('counts work inside its settling time as in flight, and reports it once that time is over', () => {
    const inFlight = [payment('a', { status: 'pending', bookingId: undefined, updatedAt: JUST_NOW }), payment('b', { bookingId: undefined, updatedAt: JUST_NOW })];
    expect(audit(inFlight, [])).toMatchObject({ ok: true, counts: { inFlight: 2 } });
    const stale = [payment('a', { status: 'pending', bookingId: undefined }), payment('b', { bookingId: undefined }), payment('c', { status: 'refund_pending' })];
    const report = audit(stale, [booking('c', { status: 'cancelled', cancelledAt: LONG_AGO })]);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.stringContaining('h_a.1 (10000 USD) has been pending'),
      expect.stringContaining('h_b.1 (10000 USD) was charged but is neither booked nor refunded'),
      expect.stringContaining('h_c.1 (10000 USD): its refund has been pending'),
    ]);
  });

  it.each([
    ['a booking without its charge', [], [booking('a')], 'booking b_a is confirmed without a recorded payment'],
    ['a charge for a booking that does not exist', [payment('a')], [], 'paid for booking b_a, which does not exist'],
    ['a cancelled booking whose charge was kept', [payment('a')], [booking('a', { status: 'cancelled', cancelledAt: LONG_AGO })], 'which is cancelled, and was not refunded'],
    ['a charge of another amount than the booking', [payment('a', { amount: 9_999 })], [booking('a')], 'whose total is 10000 USD'],
    ['a confirmed booking whose charge was refunded', [payment('a', { status: 'refunded' })], [booking('a')], 'is confirmed but its payment h_a.1 is refunded'],
    ['a hold charged twice', [payment('a'), payment('a', { paymentKey: 'h_a.2', bookingId: 'b_other' })], [booking('a'), booking('other', { payment: { paymentKey: 'h_a.2', status: 'succeeded' } })], 'hold h_a was charged 2 times'],
  ])('reports %s', (_, payments, bookings, problem) => {
    const report = audit(payments as PaymentRecord[], bookings as AuditedBooking[]);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.stringContaining(problem));
  });
});
