import { dynamo } from '../../lib/clients/dynamo';
import { config } from '../../lib/config';
import type { PaymentsGateway } from '../../functions/seats/payments-client';
import { SeatService, type HoldView, type SeatServiceOptions } from '../../functions/seats/service';
import type { SeatStore } from '../../functions/seats/store';
import { StripeProvider } from '../../functions/payments/provider';
import { PaymentService } from '../../functions/payments/service';
import { DynamoPaymentStore } from '../../functions/payments/store';
import type { Caller } from '../../lib/auth/roles';
import { checkoutFor } from './seats';

export { checkoutFor };

/**
 * Checkout in the integration tests: the seats service pays through a real payments service in this
 * process, its table on the test run's dynalite and its provider the run's stripe-local (started by the
 * launcher: STRIPE_API_URL), with only the HTTP hop between the two services left out.
 */


/** The payments service in this process, settling through the given seats service. */
export function paymentsInProcess(seats: () => SeatService, settleAfterMs = 30_000): { gateway: PaymentsGateway; service: PaymentService } {
  const { PAYMENTS_TABLE, STRIPE_API_URL } = config('payments');
  const { STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET } = config('paymentKeys');
  const service = new PaymentService(
    new DynamoPaymentStore(dynamo(), PAYMENTS_TABLE),
    new StripeProvider({ secretKey: STRIPE_SECRET_KEY, webhookSecret: STRIPE_WEBHOOK_SECRET, ...(STRIPE_API_URL ? { apiUrl: STRIPE_API_URL } : {}) }),
    {
      async settle(holdId, { paymentKey, provider, paymentId }) {
        const completion = await seats().completeCheckout(holdId, paymentKey, { provider, paymentId });
        return completion === 'gone' ? { outcome: 'gone' } : { outcome: 'booked', bookingId: completion.booking.bookingId };
      },
      async bookings(cursor) {
        const page = await seats().allBookings(Number(cursor ?? 0), 100);
        return { items: page.items, nextCursor: page.nextOffset === null ? null : String(page.nextOffset) };
      },
    },
    { settleAfterMs },
  );
  return {
    service,
    gateway: { charge: (order) => service.charge(order), markBooked: (key, bookingId) => service.markBooked(key, bookingId), refund: (key) => service.refund(key) },
  };
}

/** A seats service that takes payments (in this process, see above). */
export function payingSeatService(store: SeatStore, holdTtlMs: number, options: SeatServiceOptions = {}): SeatService {
  const seats: SeatService = new SeatService(store, holdTtlMs, { payments: paymentsInProcess(() => seats).gateway, ...options });
  return seats;
}

/** Pays for a hold with the test Visa and books it. */
export const book = (seats: SeatService, caller: Caller, hold: Pick<HoldView, 'holdId' | 'seats'>, paymentMethod?: string) =>
  seats.confirm(caller, hold.holdId, checkoutFor(hold.seats, paymentMethod));
