import type Stripe from 'stripe';
import { AppError } from '../../lib/http/errors';
import { log } from '../../lib/log';
import { count } from '../../lib/observability';
import { auditPayments, type AuditedBooking, type PaymentsAudit } from './audit';
import type { ChargeOrder, PaymentRecord } from './model';
import { InvalidSignatureError, type PaymentProvider } from './provider';
import type { PaymentStore } from './store';

/**
 * The payments service: the only part of the system that talks to the payment provider. It charges a
 * checkout once per payment key (recorded `pending` before the provider is asked, so a crash leaves a
 * trace the sweep finds), links a charge to its booking, refunds, takes the provider's webhooks, and
 * settles what a crash left half done: every charge ends as a booking or a refund (API.md, Checkout).
 */

export type ChargeAnswer = { status: 'succeeded'; provider: string; paymentId: string } | { status: 'declined'; declineCode: string };

export interface RefundAnswer {
  status: 'refund_pending' | 'refunded';
  refundedAt?: string;
}

/** The seats service as the payments service sees it (functions/payments/seats-client.ts). */
export interface SeatsForPayments {
  /** Books the hold a charge paid for, if it is still paying with this key; `gone` if not. */
  settle(holdId: string, payment: { paymentKey: string; provider: string; paymentId: string }): Promise<{ outcome: 'booked'; bookingId: string } | { outcome: 'gone' }>;
  /** Every booking, page by page. */
  bookings(cursor?: string): Promise<{ items: AuditedBooking[]; nextCursor: string | null }>;
}

export interface PaymentServiceOptions {
  /**
   * How long a charge may stay unsettled before the sweep steps in (pending, or charged without a
   * booking): longer than a confirm takes, so the sweep never races a confirm that is still running.
   */
  settleAfterMs: number;
  now?: () => number;
}

/** What a refund is made under at the provider: one refund per payment, whoever asks how often. */
const refundKey = (paymentKey: string) => `refund-${paymentKey}`;

const isAlreadyRefunded = (error: unknown) => (error as { code?: string }).code === 'charge_already_refunded';

export class PaymentService {
  private readonly now: () => number;

  constructor(
    private readonly store: PaymentStore,
    private readonly provider: PaymentProvider,
    private readonly seats: SeatsForPayments,
    private readonly options: PaymentServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  private stamp(): string {
    return new Date(this.now()).toISOString();
  }

  private async record(paymentKey: string): Promise<PaymentRecord> {
    const record = await this.store.get(paymentKey);
    if (!record) throw new AppError('PAYMENT_NOT_FOUND');
    return record;
  }

  /** A call to the provider; one that fails (down, slow, refusing us) is counted: operators are alarmed on it. */
  private async withProvider<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!isAlreadyRefunded(error)) count('PaymentsFailed');
      throw error;
    }
  }

  /** Charges a checkout; a repeat with the same key answers the first outcome without charging again. */
  async charge(order: ChargeOrder): Promise<ChargeAnswer> {
    const stamp = this.stamp();
    const { record } = await this.store.create({
      ...order,
      provider: order.amount === 0 ? 'none' : 'stripe',
      status: 'pending',
      createdAt: stamp,
      updatedAt: stamp,
    });
    if (record.amount !== order.amount || record.currency !== order.currency || record.paymentMethod !== order.paymentMethod) {
      throw new AppError('PAYMENT_IN_PROGRESS', 'This payment key was used for another amount or payment method');
    }
    return this.settleCharge(record);
  }

  /** Asks the provider for a pending charge's outcome (the same key: a replay if it was made) and records it. */
  private async settleCharge(record: PaymentRecord): Promise<ChargeAnswer> {
    if (record.status === 'declined') return { status: 'declined', declineCode: record.declineCode ?? 'card_declined' };
    if (record.status !== 'pending') return { status: 'succeeded', provider: record.provider, paymentId: record.paymentId! };
    if (record.provider === 'none') {
      return this.recordCharge(record, { status: 'succeeded', paymentId: `none_${record.paymentKey}` });
    }
    const { paymentMethod } = record;
    if (!paymentMethod) throw new AppError('VALIDATION_FAILED', 'paymentMethod: is required: the amount is more than 0');
    const result = await this.withProvider(() => this.provider.charge({
      idempotencyKey: record.paymentKey,
      amount: record.amount,
      currency: record.currency,
      paymentMethod,
      description: `Flight booking, hold ${record.holdId}`,
      // How a webhook or a look-up at the provider finds our record again.
      metadata: { paymentKey: record.paymentKey, holdId: record.holdId, flightId: record.flightId, userId: record.userId },
    }));
    // Settled later by the provider (its webhook) or by the sweep; the client retries with its key meanwhile.
    if (result.status === 'processing') throw new AppError('SERVICE_UNAVAILABLE', 'The payment is still processing; retry shortly');
    return this.recordCharge(record, result.status === 'succeeded' ? { status: 'succeeded', paymentId: result.paymentId } : { status: 'declined', declineCode: result.declineCode, paymentId: result.paymentId });
  }

  private async recordCharge(record: PaymentRecord, outcome: Partial<PaymentRecord>): Promise<ChargeAnswer> {
    const updated = await this.store.update(record.paymentKey, ['pending'], outcome);
    // Someone else recorded the outcome first (a concurrent repeat, the webhook): theirs is the same.
    const settled = updated ?? (await this.record(record.paymentKey));
    if (updated) count(settled.status === 'succeeded' ? 'PaymentsSucceeded' : 'PaymentsDeclined');
    return this.settleCharge(settled);
  }

  async markBooked(paymentKey: string, bookingId: string): Promise<void> {
    const record = await this.record(paymentKey);
    if (record.bookingId === bookingId) return;
    if (record.bookingId || record.status !== 'succeeded') {
      throw new AppError('PAYMENT_IN_PROGRESS', `The payment is ${record.status}${record.bookingId ? ` for booking ${record.bookingId}` : ''}`);
    }
    if (!(await this.store.update(paymentKey, ['succeeded'], { bookingId }))) return this.markBooked(paymentKey, bookingId);
  }

  /** Refunds a charge in full; refund_pending until the provider confirms it (the sweep asks again). */
  async refund(paymentKey: string): Promise<RefundAnswer> {
    let record = await this.record(paymentKey);
    if (record.status === 'pending') {
      await this.settleCharge(record);
      record = await this.record(paymentKey);
    }
    if (record.status === 'refunded') return { status: 'refunded', ...(record.refundedAt ? { refundedAt: record.refundedAt } : {}) };
    // Nothing was taken, so nothing goes back.
    if (record.status === 'declined') return { status: 'refunded' };
    if (record.status === 'succeeded') {
      record = (await this.store.update(paymentKey, ['succeeded'], { status: 'refund_pending' })) ?? (await this.record(paymentKey));
      if (record.status !== 'refund_pending') return this.refund(paymentKey);
    }
    if (record.provider === 'none') return this.recordRefund(record, undefined);
    try {
      const refund = await this.withProvider(() => this.provider.refund({ paymentId: record.paymentId!, idempotencyKey: refundKey(paymentKey) }));
      if (refund.status === 'succeeded') return this.recordRefund(record, refund.refundId);
      if (refund.status === 'failed') log.error('the provider could not make a refund; it stays pending and is retried', { paymentKey, refundId: refund.refundId });
      await this.store.update(paymentKey, ['refund_pending'], { refundId: refund.refundId });
      return { status: 'refund_pending' };
    } catch (error) {
      if (isAlreadyRefunded(error)) return this.recordRefund(record, record.refundId);
      throw error;
    }
  }

  private async recordRefund(record: PaymentRecord, refundId: string | undefined): Promise<RefundAnswer> {
    const refundedAt = this.stamp();
    const updated = await this.store.update(record.paymentKey, ['refund_pending'], { status: 'refunded', refundedAt, ...(refundId ? { refundId } : {}) });
    if (updated) count('Refunds');
    const now = updated ?? (await this.record(record.paymentKey));
    return { status: now.status === 'refunded' ? 'refunded' : 'refund_pending', ...(now.refundedAt ? { refundedAt: now.refundedAt } : {}) };
  }

  /** A charge the seats service never booked: a booking if its hold still waits for it, a refund if not. */
  private async settleBooking(record: PaymentRecord): Promise<void> {
    const settled = await this.seats.settle(record.holdId, { paymentKey: record.paymentKey, provider: record.provider, paymentId: record.paymentId! });
    if (settled.outcome === 'booked') await this.markBooked(record.paymentKey, settled.bookingId);
    else await this.refund(record.paymentKey);
    count('PaymentsSettled');
  }

  /** A webhook from the provider, verified on its raw body before anything is read from it. */
  async webhook(rawBody: string, signature: string | undefined): Promise<void> {
    let event: Stripe.Event;
    try {
      if (!signature) throw new InvalidSignatureError();
      event = this.provider.verifyWebhook(rawBody, signature);
    } catch (error) {
      if (error instanceof InvalidSignatureError) throw new AppError('INVALID_SIGNATURE');
      throw error;
    }
    switch (event.type) {
      case 'payment_intent.succeeded':
      case 'payment_intent.payment_failed': {
        const record = await this.store.get(event.data.object.metadata?.paymentKey ?? '');
        if (!record) return;
        if (record.status === 'pending') await this.settleCharge(record);
        const now = await this.record(record.paymentKey);
        // Charged and not booked: the confirm died, or is still running; settling is safe either way
        // (the seats service books a payment key once).
        if (now.status === 'succeeded' && !now.bookingId) await this.settleBooking(now);
        return;
      }
      case 'charge.refunded':
      case 'refund.created':
      case 'refund.updated': {
        const object = event.data.object as { payment_intent?: string | { id: string } | null };
        const paymentId = typeof object.payment_intent === 'string' ? object.payment_intent : object.payment_intent?.id;
        const charge = paymentId ? await this.provider.findCharge(paymentId) : undefined;
        const record = charge ? await this.store.get(charge.metadata.paymentKey ?? '') : undefined;
        if (record?.status === 'refund_pending') await this.refund(record.paymentKey);
        return;
      }
      default:
        return;
    }
  }

  /** The sweep: what is still open after `settleAfterMs` is asked about again, until it is settled. */
  async sweep(limit: number): Promise<{ settled: number; failed: number }> {
    const cutoff = new Date(this.now() - this.options.settleAfterMs).toISOString();
    let settled = 0;
    let failed = 0;
    for (const record of await this.store.open(limit)) {
      if (record.updatedAt > cutoff) continue;
      try {
        if (record.status === 'pending') await this.settleCharge(record);
        const now = await this.record(record.paymentKey);
        if (now.status === 'succeeded' && !now.bookingId) await this.settleBooking(now);
        else if (now.status === 'refund_pending') await this.refund(now.paymentKey);
        settled += 1;
      } catch (error) {
        failed += 1;
        log.warn('could not settle a payment yet; the next sweep tries again', { paymentKey: record.paymentKey, error: (error as Error).message });
      }
    }
    return { settled, failed };
  }

  /** Every charge is a booking or a refund; every confirmed booking has its charge (API.md, Checkout). */
  async audit(): Promise<PaymentsAudit> {
    const payments: PaymentRecord[] = [];
    let cursor;
    do {
      const page = await this.store.page(cursor);
      payments.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
    const bookings: AuditedBooking[] = [];
    let next: string | null | undefined;
    do {
      const page = await this.seats.bookings(next ?? undefined);
      bookings.push(...page.items);
      next = page.nextCursor;
    } while (next);
    return auditPayments(payments, bookings, new Date(this.now() - this.options.settleAfterMs).toISOString());
  }
}
