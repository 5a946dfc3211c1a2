import Stripe from 'stripe';
import { AppError } from '../../lib/http/errors';
import { RETRY_AFTER_SECONDS } from '../../lib/http/unavailable';

/**
 * The payment provider as the payments service sees it: charge once per idempotency key, look a charge
 * up, refund, verify webhooks. Stripe stands behind it (StripeProvider); locally the same SDK talks to
 * stripe-local/ (the flow) or stripe-mock (the request shapes). Amounts are integer minor units.
 */

export interface ChargeRequest {
  /** Stripe replays the first answer for a repeated key for 24 h: a retry or a crash never charges twice. */
  idempotencyKey: string;
  amount: number;
  /** ISO 4217; sent lowercase, as Stripe stores it. */
  currency: string;
  /** The provider's payment method id, e.g. `pm_card_visa`. */
  paymentMethod: string;
  description?: string;
  metadata?: Record<string, string>;
}

export type ChargeResult =
  | { status: 'succeeded'; paymentId: string }
  /** Stripe has the payment but settles it later (rare for cards): the webhook tells how it ends. */
  | { status: 'processing'; paymentId: string }
  /** No money moved. `paymentId` is the declined PaymentIntent, when one was created. */
  | { status: 'declined'; declineCode: string; paymentId?: string };

export interface Charge {
  paymentId: string;
  /** Stripe's PaymentIntent status: `succeeded`, `requires_payment_method` (declined), `canceled`, … */
  status: string;
  amount: number;
  amountReceived: number;
  currency: string;
  metadata: Record<string, string>;
}

export interface Refund {
  refundId: string;
  status: 'succeeded' | 'pending' | 'failed';
  amount: number;
  paymentId?: string;
}

export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<ChargeResult>;
  /** The charge with that id, or undefined when the provider has none. */
  findCharge(paymentId: string): Promise<Charge | undefined>;
  /** Refunds `amount`, or what is left of the payment. Refunding more than is left throws (code `charge_already_refunded` or `amount_too_large`). */
  refund(request: { paymentId: string; idempotencyKey: string; amount?: number }): Promise<Refund>;
  getRefund(refundId: string): Promise<Refund | undefined>;
  /** The event a webhook carries, once its signature is checked; throws InvalidSignatureError otherwise. */
  verifyWebhook(rawBody: string, signatureHeader: string): Stripe.Event;
}

/** A webhook whose signature does not match (forged, altered, or older than the 300 s tolerance). */
export class InvalidSignatureError extends Error {
  constructor(options?: ErrorOptions) {
    super('The webhook signature does not match its body', options);
    this.name = 'InvalidSignatureError';
  }
}

/**
 * The provider is down, slow, overloaded (429) or busy with the same key (409): a 503 with Retry-After
 * that the client retries with its Idempotency-Key. An AppError 503, so isDependencyUnavailable knows
 * it (the SDK's own errors carry no name, code or cause it could recognise).
 */
export class PaymentProviderUnavailableError extends AppError {
  constructor(cause: unknown) {
    super('SERVICE_UNAVAILABLE', 'The payment provider is not answering; retry shortly', {}, { 'retry-after': String(RETRY_AFTER_SECONDS) });
    this.name = 'PaymentProviderUnavailableError';
    this.cause = cause;
  }
}

/** A secret as it is now: a function is asked at every call, so a rotated secret is used at once (lib/secrets.ts). */
type Current = string | (() => string);
const current = (value: Current) => (typeof value === 'function' ? value() : value);

export interface StripeProviderOptions {
  secretKey: Current;
  /** The webhook signing secret, or several comma separated (while one is rotated): a signature by any is accepted. */
  webhookSecret: Current;
  /** Another Stripe-compatible server, e.g. `http://127.0.0.1:12111` (stripe-local or stripe-mock). */
  apiUrl?: string;
  /**
   * Per attempt. A card confirmation takes a few seconds at worst; two attempts and the SDK's backoff
   * stay well inside API Gateway's 29 s.
   */
  timeoutMs?: number;
  /** Retries of a failed attempt (with the same idempotency key, so a retry only replays). */
  maxNetworkRetries?: number;
}

/** Stripe's default: a signature older than this is refused, so a captured webhook cannot be replayed later. */
const WEBHOOK_TOLERANCE_SECONDS = 300;

export class StripeProvider implements PaymentProvider {
  private client: { key: string; stripe: Stripe } | undefined;

  constructor(private readonly options: StripeProviderOptions) {}

  /** One client per key for the life of the process (a warm Lambda reuses it and its keep-alive sockets); a new key, a new client. */
  private get stripe(): Stripe {
    const key = current(this.options.secretKey);
    if (this.client?.key !== key) {
      const { apiUrl, timeoutMs = 5_000, maxNetworkRetries = 1 } = this.options;
      const target = apiUrl ? new URL(apiUrl) : undefined;
      const stripe = new Stripe(key, {
        timeout: timeoutMs,
        // A retry reuses the request's idempotency key, so it can only replay, never charge twice.
        maxNetworkRetries,
        ...(target && { host: target.hostname, port: target.port || undefined, protocol: target.protocol === 'http:' ? 'http' : 'https' }),
      });
      this.client = { key, stripe };
    }
    return this.client.stripe;
  }

  async charge({ idempotencyKey, amount, currency, paymentMethod, description, metadata }: ChargeRequest): Promise<ChargeResult> {
    try {
      const intent = await this.stripe.paymentIntents.create(
        {
          amount,
          currency: currency.toLowerCase(),
          payment_method: paymentMethod,
          // Created and confirmed server-side in one call. No redirect-based method can be completed
          // from a backend, so they are excluded (without this Stripe demands a return_url).
          confirm: true,
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          description,
          metadata,
        },
        { idempotencyKey },
      );
      return chargeResult(intent);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) {
        return { status: 'declined', declineCode: declineCodeOf(error), paymentId: error.payment_intent?.id };
      }
      // An unknown, detached or foreign payment method id: the traveller should try another method.
      if (error instanceof Stripe.errors.StripeInvalidRequestError && error.param === 'payment_method') {
        return { status: 'declined', declineCode: 'invalid_payment_method' };
      }
      throw unavailableOr(error);
    }
  }

  async findCharge(paymentId: string): Promise<Charge | undefined> {
    try {
      const intent = await this.stripe.paymentIntents.retrieve(paymentId);
      const { id, status, amount, amount_received: amountReceived, currency, metadata } = intent;
      return { paymentId: id, status, amount, amountReceived, currency, metadata };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw unavailableOr(error);
    }
  }

  async refund({ paymentId, idempotencyKey, amount }: { paymentId: string; idempotencyKey: string; amount?: number }): Promise<Refund> {
    try {
      return refundResult(await this.stripe.refunds.create({ payment_intent: paymentId, amount }, { idempotencyKey }));
    } catch (error) {
      throw unavailableOr(error);
    }
  }

  async getRefund(refundId: string): Promise<Refund | undefined> {
    try {
      return refundResult(await this.stripe.refunds.retrieve(refundId));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw unavailableOr(error);
    }
  }

  verifyWebhook(rawBody: string, signatureHeader: string): Stripe.Event {
    const secrets = current(this.options.webhookSecret).split(',').map((secret) => secret.trim()).filter(Boolean);
    let refusal: unknown;
    for (const secret of secrets) {
      try {
        return this.stripe.webhooks.constructEvent(rawBody, signatureHeader, secret, WEBHOOK_TOLERANCE_SECONDS);
      } catch (error) {
        if (!(error instanceof Stripe.errors.StripeSignatureVerificationError)) throw error;
        refusal = error;
      }
    }
    throw new InvalidSignatureError({ cause: refusal });
  }
}

function chargeResult(intent: Stripe.PaymentIntent): ChargeResult {
  switch (intent.status) {
    case 'succeeded':
      return { status: 'succeeded', paymentId: intent.id };
    case 'processing':
      return { status: 'processing', paymentId: intent.id };
    // 3-D Secure asked for (on-session confirm): a backend cannot authenticate, so it is a decline.
    case 'requires_action':
      return { status: 'declined', declineCode: 'authentication_required', paymentId: intent.id };
    default: {
      return { status: 'declined', declineCode: declineCodeOf(intent.last_payment_error), paymentId: intent.id };
    }
  }
}

/**
 * The reason a traveller is told (API.md): Stripe's decline code where it has a specific one
 * (`insufficient_funds`), else its error code (`card_declined` for a generic decline, `expired_card`,
 * which carries no decline code). The SDK sets decline_code to '' when Stripe sends none.
 */
function declineCodeOf(error: { decline_code?: string; code?: string } | null | undefined): string {
  const specific = error?.decline_code && error.decline_code !== 'generic_decline' ? error.decline_code : undefined;
  return specific || error?.code || 'card_declined';
}

function refundResult(refund: Stripe.Refund): Refund {
  const status = refund.status === 'succeeded' ? 'succeeded' : refund.status === 'failed' || refund.status === 'canceled' ? 'failed' : 'pending';
  const paymentId = typeof refund.payment_intent === 'string' ? refund.payment_intent : refund.payment_intent?.id;
  return { refundId: refund.id, status, amount: refund.amount, paymentId };
}

function isMissing(error: unknown): boolean {
  return error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'resource_missing';
}

/** Network failures, time-outs, 5xx, 409 and 429 become a 503; anything else is our mistake and stays as it is. */
function unavailableOr(error: unknown): unknown {
  const { errors } = Stripe;
  const down =
    error instanceof errors.StripeConnectionError ||
    error instanceof errors.StripeAPIError ||
    error instanceof errors.StripeRateLimitError ||
    (error instanceof errors.StripeError && (error.statusCode ?? 0) >= 500);
  return down ? new PaymentProviderUnavailableError(error) : error;
}
