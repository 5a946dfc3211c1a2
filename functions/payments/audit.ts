import type { PaymentRecord } from './model';

/**
 * The money invariant of API.md (Checkout), checked over every payment and every booking: each
 * succeeded charge belongs to exactly one confirmed booking or is refunded, each confirmed booking has
 * a succeeded charge of its total, and no hold is paid for twice. Work still inside its settling time
 * (a confirm running, a refund the provider has not confirmed yet) is counted, not reported; the same
 * past it is a problem. Problems are reported, never repaired here.
 */

/** A booking as the seats service lists it for the audit. */
export interface AuditedBooking {
  bookingId: string;
  holdId?: string;
  status: 'confirmed' | 'cancelled' | 'flight_cancelled';
  cancelledAt?: string;
  total?: { amount: number; currency: string };
  payment?: { paymentKey: string; status: string };
}

export interface PaymentsAudit {
  ok: boolean;
  counts: { payments: number; bookings: number; refunds: number; inFlight: number };
  problems: string[];
}

export function auditPayments(payments: PaymentRecord[], bookings: AuditedBooking[], settledBefore: string): PaymentsAudit {
  const problems: string[] = [];
  const byKey = new Map(payments.map((payment) => [payment.paymentKey, payment]));
  const bookingsById = new Map(bookings.map((booking) => [booking.bookingId, booking]));
  const stale = (payment: PaymentRecord) => payment.updatedAt <= settledBefore;
  let inFlight = 0;

  const keptByHold = new Map<string, string[]>();
  for (const payment of payments) {
    const label = `payment ${payment.paymentKey} (${payment.amount} ${payment.currency})`;
    if (payment.status === 'succeeded' || payment.status === 'refund_pending') {
      keptByHold.set(payment.holdId, [...(keptByHold.get(payment.holdId) ?? []), payment.paymentKey]);
    }
    if (payment.status === 'pending' || payment.status === 'refund_pending' || (payment.status === 'succeeded' && !payment.bookingId)) {
      if (!stale(payment)) {
        inFlight += 1;
        continue;
      }
      if (payment.status === 'pending') problems.push(`${label} has been pending since ${payment.updatedAt}: its outcome was never recorded`);
      else if (payment.status === 'refund_pending') problems.push(`${label}: its refund has been pending since ${payment.updatedAt}`);
      else problems.push(`${label} was charged but is neither booked nor refunded`);
      continue;
    }
    if (payment.status !== 'succeeded') continue;
    const booking = bookingsById.get(payment.bookingId!);
    if (!booking) problems.push(`${label} paid for booking ${payment.bookingId}, which does not exist`);
    else if (booking.status !== 'confirmed') {
      // The seats service asks for the refund when it cancels, and its refund sweep until it is made.
      if (booking.cancelledAt && booking.cancelledAt > settledBefore) inFlight += 1;
      else problems.push(`${label} paid for booking ${payment.bookingId}, which is ${booking.status}, and was not refunded`);
    }
    else if (booking.total?.amount !== payment.amount || booking.total?.currency !== payment.currency) {
      problems.push(`${label} paid for booking ${payment.bookingId}, whose total is ${booking.total?.amount} ${booking.total?.currency}`);
    }
  }
  for (const [holdId, keys] of keptByHold) {
    if (keys.length > 1) problems.push(`hold ${holdId} was charged ${keys.length} times and none refunded: ${keys.join(', ')}`);
  }

  const paidBy = new Map<string, string>();
  for (const booking of bookings) {
    const key = booking.payment?.paymentKey;
    const payment = key ? byKey.get(key) : undefined;
    if (key && paidBy.has(key)) problems.push(`payment ${key} pays for two bookings: ${paidBy.get(key)} and ${booking.bookingId}`);
    if (key) paidBy.set(key, booking.bookingId);
    if (booking.status !== 'confirmed') continue;
    if (!payment) problems.push(`booking ${booking.bookingId} is confirmed without a recorded payment`);
    else if (payment.status !== 'succeeded') problems.push(`booking ${booking.bookingId} is confirmed but its payment ${key} is ${payment.status}`);
    else if (payment.bookingId && payment.bookingId !== booking.bookingId) problems.push(`booking ${booking.bookingId} names payment ${key}, which paid for ${payment.bookingId}`);
  }

  return {
    ok: problems.length === 0,
    counts: {
      payments: payments.filter((payment) => payment.status !== 'declined').length,
      bookings: bookings.filter((booking) => booking.status === 'confirmed').length,
      refunds: payments.filter((payment) => payment.status === 'refunded').length,
      inFlight,
    },
    problems,
  };
}
