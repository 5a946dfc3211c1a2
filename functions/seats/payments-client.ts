import { callService } from '../../registry/service-client';
import type { ChargeOrder } from '../payments/model';
import type { ChargeAnswer, RefundAnswer } from '../payments/service';

/**
 * The seats service's view of the payments service (functions/payments): charge a checkout, say which
 * booking a charge paid for, refund. Reached only through the registry with a `service` token. Every
 * call is idempotent on the payment key, so a retry after a time-out or a crash never charges or
 * refunds twice.
 */

export interface PaymentsGateway {
  charge(order: ChargeOrder): Promise<ChargeAnswer>;
  markBooked(paymentKey: string, bookingId: string): Promise<void>;
  refund(paymentKey: string): Promise<RefundAnswer>;
}

/** A charge waits on the provider, whose one attempt takes at most 2.4 s (functions/payments/handlers.ts). */
const CHARGE_TIMEOUT_MS = 2_800;

export const paymentsOverRegistry: PaymentsGateway = {
  charge(order) {
    return callService('seats', 'payments', { method: 'POST', path: '/internal/payments', body: order, timeoutMs: CHARGE_TIMEOUT_MS });
  },
  async markBooked(paymentKey, bookingId) {
    await callService('seats', 'payments', { method: 'PUT', path: `/internal/payments/${paymentKey}/booking`, body: { bookingId } });
  },
  refund(paymentKey) {
    return callService('seats', 'payments', { method: 'POST', path: `/internal/payments/${paymentKey}/refund`, timeoutMs: CHARGE_TIMEOUT_MS });
  },
};
