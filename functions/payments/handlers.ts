import { assertTokenConfig } from '../../lib/auth/keys';
import { dynamo } from '../../lib/clients/dynamo';
import { config } from '../../lib/config';
import { serviceHandler } from '../../lib/http/stack';
import { pathParams } from '../../lib/http/path-params';
import { scheduled, triggeredFunction } from '../../lib/triggers';
import { chargeBody, markBookedBody } from './model';
import { StripeProvider } from './provider';
import { seatsOverRegistry } from './seats-client';
import { PaymentService } from './service';
import { DynamoPaymentStore } from './store';

/**
 * The payments service's functions: the internal routes the seats service calls (charge, link to a
 * booking, refund), the provider's webhook, the admin audit, and the sweep that settles what a crash
 * left half done.
 */

// These functions verify no tokens, but sign the service tokens of their calls to the seats service.
assertTokenConfig();
const { PAYMENTS_TABLE, STRIPE_API_URL } = config('payments');
/** Longer than a confirm takes (the seats service's payment guard is 120 s; a confirm is seconds). */
const SETTLE_AFTER_MS = 30_000;
const payments = new PaymentService(
  new DynamoPaymentStore(dynamo(), PAYMENTS_TABLE),
  // One attempt of 2.4 s: a checkout answers within API.md's 3 s even when the provider hangs (a 503 the
  // client retries with its Idempotency-Key, which replays a charge the provider made after all).
  // The keys as they are now (lib/secrets.ts refreshes them): a rotated key or webhook secret is used at once.
  new StripeProvider({
    secretKey: () => config('paymentKeys').STRIPE_SECRET_KEY,
    webhookSecret: () => config('paymentKeys').STRIPE_WEBHOOK_SECRET,
    timeoutMs: 2_400,
    maxNetworkRetries: 0,
    ...(STRIPE_API_URL ? { apiUrl: STRIPE_API_URL } : {}),
  }),
  seatsOverRegistry,
  { settleAfterMs: SETTLE_AFTER_MS },
);
const http = serviceHandler('payments');
const paymentParams = pathParams('paymentKey');

/** Service-only: charges a checkout once per payment key. */
export const charge = http({ route: 'POST /internal/payments', body: chargeBody }, async ({ body }) => ({ status: 200, body: await payments.charge(body) }));

/** Service-only: the booking a charge paid for. */
export const markBooked = http({ route: 'PUT /internal/payments/{paymentKey}/booking', params: paymentParams, body: markBookedBody }, async ({ params, body }) => {
  await payments.markBooked(params.paymentKey, body.bookingId);
  return { status: 204 };
});

/** Service-only: refunds a charge in full. */
export const refund = http({ route: 'POST /internal/payments/{paymentKey}/refund', params: paymentParams }, async ({ params }) => ({
  status: 200,
  body: await payments.refund(params.paymentKey),
}));

/** The provider's webhook: no token, a signature over the raw body instead. */
export const webhook = http({ route: 'POST /payments/webhook', rawBody: true }, async ({ rawBody, headers }) => {
  await payments.webhook(rawBody ?? '', headers['stripe-signature']);
  return { status: 200, body: { received: true } };
});

export const audit = http({ route: 'GET /admin/payments/audit' }, async () => ({ status: 200, body: await payments.audit() }));

/** Every minute: charges, bookings and refunds left unsettled past their time are settled. */
export const sweep = triggeredFunction(scheduled, () => payments.sweep(100));
