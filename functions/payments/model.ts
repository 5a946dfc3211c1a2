import { FLIGHT_ID, HOLD_ID, PAYMENT_KEY } from '../../lib/ids';
import * as z from '../../lib/validation';

/**
 * The payments service's records: one per charge attempt, keyed by the payment key the seats service
 * draws for it (`<holdId>.<attempt>`), which is also the provider's idempotency key, so an attempt is
 * charged at most once whoever asks how often.
 *
 *   pending         recorded before the provider is asked; the sweep asks again (same key) if it stays
 *   succeeded       charged; `bookingId` once the seats service booked it
 *   declined        nothing charged
 *   refund_pending  a refund was asked for; the sweep asks again until the provider confirms it
 *   refunded        the money went back
 */
export type PaymentStatus = 'pending' | 'succeeded' | 'declined' | 'refund_pending' | 'refunded';

export interface PaymentRecord {
  paymentKey: string;
  holdId: string;
  flightId: string;
  userId: string;
  amount: number;
  currency: string;
  paymentMethod?: string;
  /** `stripe`, or `none` for a total of 0 (nothing to charge). */
  provider: 'stripe' | 'none';
  status: PaymentStatus;
  paymentId?: string;
  declineCode?: string;
  bookingId?: string;
  refundId?: string;
  refundedAt?: string;
  createdAt: string;
  updatedAt: string;
}

export const chargeBody = z.strictObject({
  paymentKey: z.string().check(z.regex(PAYMENT_KEY)),
  holdId: z.string().check(z.regex(HOLD_ID)),
  flightId: z.string().check(z.regex(FLIGHT_ID)),
  userId: z.string().check(z.minLength(1), z.maxLength(100)),
  amount: z.number().check(z.int(), z.gte(0), z.lte(900_000_000)),
  currency: z.string().check(z.regex(/^[A-Z]{3}$/)),
  paymentMethod: z.optional(z.string().check(z.regex(/^pm_[A-Za-z0-9_]{1,100}$/))),
});
export type ChargeOrder = z.infer<typeof chargeBody>;

export const markBookedBody = z.strictObject({ bookingId: z.string().check(z.minLength(1), z.maxLength(100)) });
