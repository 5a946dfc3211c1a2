import type { ScheduleTimes } from '../notifications/model';
import { randomBytes } from 'node:crypto';
import { AppError, validationFailed, type ErrorCode } from '../../lib/http/errors';
import type { Caller } from '../../lib/auth/roles';
import { log } from '../../lib/log';
import { auditSnapshot, type AuditReport } from './audit';
import { flightOfId } from './keys';
import {
  compareSeatIds,
  HOLD_LIMIT_PER_USER,
  type Booking,
  type CheckoutDetails,
  type HoldRecord,
  type MigrationOutcome,
  type MigrationPolicy,
  type Money,
  type SeatMapInput,
  type SeatMapView,
  type SeatView,
} from './model';
import { count } from '../../lib/observability';
import type { IdempotencyClaim } from './idempotency';
import type { PaymentsGateway } from './payments-client';
import { newReference, REFERENCE_PATTERN, ticketNumber } from './references';
import type { ScriptAnswer, SeatStore } from './store';

/** The seats service's rules: seat maps with live status, holds, bookings, flight cancellation, audit. */

const newId = (prefix: 'h' | 'b', flightId: string) => `${prefix}_${flightId}_${randomBytes(12).toString('base64url')}`;

/** Turns a script's `{error}` answer into the problem the client sees; a replayed one says so in a header. */
function unwrap<T>(answer: ScriptAnswer<T>): T {
  if (!answer.replayed) count('HoldsExpired', answer.expired);
  if (!('error' in answer)) {
    const { ok: _ok, replayed: _replayed, expired: _expired, kick: _kick, noticed: _noticed, statusVersion: _statusVersion, ...result } = answer;
    return result as T;
  }
  const problem = problemOf(answer);
  throw answer.replayed && problem instanceof AppError ? new AppError(problem.code, problem.detail, problem.extensions, { ...problem.headers, ...REPLAYED }) : problem;
}

function problemOf(answer: Extract<ScriptAnswer<unknown>, { error: string }>): Error {
  switch (answer.error) {
    case 'SEAT_UNAVAILABLE':
      return new AppError('SEAT_UNAVAILABLE', `Not available: ${answer.seats?.join(', ')}`, { unavailable: answer.seats });
    case 'SEAT_NOT_FOUND':
      return new AppError('SEAT_NOT_FOUND', `Not on this flight's seat map: ${answer.seats?.join(', ')}`, { seats: answer.seats });
    case 'FENCED':
      return new AppError('MIGRATION_FENCED', `Fence token ${answer.fence} is not newer than ${answer.lastFence}, the last one applied: the migrator lost the flight lock`);
    case 'MIGRATION_CONFLICTS':
      return new AppError('MIGRATION_CONFLICTS', 'Held or booked seats would be dropped', { conflicts: answer.conflicts });
    case 'HOLD_LIMIT_REACHED':
      return new AppError('HOLD_LIMIT_REACHED', `You hold ${answer.held} seats of this flight; at most ${answer.limit} at a time`, { limit: answer.limit, held: answer.held });
    case 'HOLD_ALREADY_CONFIRMED':
      return new AppError('HOLD_ALREADY_CONFIRMED', undefined, { bookingId: answer.bookingId });
    case 'PAYMENT_DECLINED':
      return new AppError('PAYMENT_DECLINED', `The payment was declined (${answer.declineCode}); the hold is kept: pay with another method`, { declineCode: answer.declineCode });
    case 'PASSENGERS_MISMATCH':
      return validationFailed([{ field: 'passengers', message: `must name exactly one passenger for each held seat: ${answer.seats?.join(', ')}` }]);
    case 'PAYMENT_METHOD_REQUIRED':
      return validationFailed([{ field: 'paymentMethod', message: 'is required: the hold costs more than 0' }]);
    case 'INTERNAL':
      return new Error(`seat state inconsistent: ${JSON.stringify(answer)}`);
    default:
      return new AppError(answer.error as ErrorCode);
  }
}

/** The header of an answer that is the stored first answer to its Idempotency-Key. */
export const REPLAYED = { 'idempotent-replayed': 'true' };

/** A hold won, or refused for contention or the cap (what operators watch; other errors are the request's own). */
function countHold(answer: ScriptAnswer<unknown>): void {
  if (!('error' in answer)) count('HoldsWon');
  else if (answer.error === 'SEAT_UNAVAILABLE' || answer.error === 'HOLD_LIMIT_REACHED') count('HoldsRefused');
}

/** An answer to a request that may carry an Idempotency-Key: `replayed` when it is the stored first answer. */
export interface Once<T> {
  value: T;
  replayed: boolean;
}

export interface HoldView {
  holdId: string;
  flightId: string;
  seats: string[];
  total?: Money;
  expiresAt: string;
  status: HoldRecord['status'];
  bookingId?: string;
}

export interface BookingView extends Omit<Booking, 'holdId' | 'payment'> {
  payment: Omit<Booking['payment'], 'paymentKey'>;
}

/** What anyone with the reference and a passenger's last name sees: no account, no contact details. */
export type LookedUpBooking = Omit<BookingView, 'userId' | 'contact'>;

function holdView(flightId: string, hold: HoldRecord, nowMs: number): HoldView {
  // A hold being paid for is not expired while its payment runs (the guard keeps its seats).
  const status = hold.status === 'active' && hold.expiresAtMs <= nowMs && !hold.checkout ? 'expired' : hold.status;
  return {
    holdId: hold.holdId,
    flightId,
    seats: hold.seats,
    ...(hold.total ? { total: hold.total } : {}),
    expiresAt: new Date(hold.expiresAtMs).toISOString(),
    status,
    ...(hold.bookingId ? { bookingId: hold.bookingId } : {}),
  };
}

export function bookingView({ holdId: _holdId, payment: { paymentKey: _paymentKey, ...payment }, ...booking }: Booking): BookingView {
  return { ...booking, payment };
}

/** Names compare as a person reads them: composed the same way, without case or surrounding spaces. */
const comparableName = (name: string) => name.normalize('NFC').trim().toLocaleLowerCase('und');

export interface SeatServiceOptions {
  /** The payments service; needed to confirm and to refund. */
  payments?: PaymentsGateway;
  /** How long a hold being paid for is kept (config PAYMENT_GUARD_SECONDS). */
  paymentGuardMs?: number;
  /** Sales close this long before departure (config SALES_CLOSE_MINUTES). */
  salesCloseMs?: number;
  now?: () => number;
}

/** What a paid checkout ended as: its booking, or nothing to book (the hold ended first: refund it). */
type Completion = { booking: Booking; replayed: boolean } | 'gone';

/** Passengers per booking at most, hence ticket numbers per reference (references.ts). */
const TICKETS_PER_REFERENCE = HOLD_LIMIT_PER_USER;
const REFERENCE_TRIES = 5;

export class SeatService {
  private readonly now: () => number;
  private readonly paymentGuardMs: number;
  private readonly salesCloseMs: number;

  constructor(
    private readonly store: SeatStore,
    private readonly holdTtlMs: number,
    private readonly options: SeatServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.paymentGuardMs = options.paymentGuardMs ?? 120_000;
    this.salesCloseMs = options.salesCloseMs ?? 60 * 60_000;
  }

  private get payments(): PaymentsGateway {
    if (!this.options.payments) throw new Error('this SeatService has no payments gateway');
    return this.options.payments;
  }

  private flightOf(id: string, notFound: ErrorCode): string {
    const flightId = flightOfId(id);
    if (!flightId) throw new AppError(notFound);
    return flightId;
  }

  async provision(flightId: string, mapVersion: number, departureTime: string, seatMap: SeatMapInput): Promise<{ existed: boolean }> {
    return unwrap(await this.store.provision(flightId, mapVersion, Date.parse(departureTime), seatMap));
  }

  /** A flight's new departure time (its sales close from it). */
  async schedule(flightId: string, departureTime: string): Promise<void> {
    unwrap(await this.store.schedule(flightId, Date.parse(departureTime)));
  }

  /** A time change of the flight: an email to each of its bookings (the script records them, once per change id). */
  async retimed(flightId: string, change: { changeId: string; previous: ScheduleTimes; current: ScheduleTimes }): Promise<void> {
    unwrap(await this.store.retimed(flightId, change));
  }

  async applySeatMap(flightId: string, args: { fenceToken: number; policy: MigrationPolicy; seatMap: SeatMapInput }): Promise<MigrationOutcome> {
    return unwrap(await this.store.applySeatMap(flightId, args));
  }

  async seatMap(flightId: string): Promise<SeatMapView> {
    const snapshot = await this.store.seats(flightId);
    if (!snapshot) throw new AppError('FLIGHT_NOT_FOUND');
    count('HoldsExpired', snapshot.expired);
    const counts = { available: 0, held: 0, booked: 0, total: 0 };
    const seats: SeatView[] = Object.entries(snapshot.map).map(([id, raw]) => {
      const marker = snapshot.state[id];
      const status = marker === undefined ? 'available' : marker.startsWith('H:') ? 'held' : 'booked';
      counts[status] += 1;
      counts.total += 1;
      return { id, ...(JSON.parse(raw) as Omit<SeatView, 'id' | 'status'>), status };
    });
    seats.sort((a, b) => compareSeatIds(a.id, b.id));
    return {
      flightId,
      version: Number(snapshot.meta.version),
      seatMapVersion: Number(snapshot.meta.mapVersion),
      status: snapshot.meta.status === 'cancelled' ? 'cancelled' : 'scheduled',
      seats,
      counts,
    };
  }

  async hold(caller: Caller, flightId: string, seats: string[]): Promise<HoldView> {
    return (await this.holdOnce(caller, flightId, seats)).value;
  }

  /** A hold; with an Idempotency-Key, the first answer to that key instead of a second hold. */
  async holdOnce(caller: Caller, flightId: string, seats: string[], idempotency?: IdempotencyClaim): Promise<Once<HoldView>> {
    await this.claimKeyForFlight(caller, flightId, idempotency);
    const answer = await this.store.hold(
      flightId,
      {
        holdId: newId('h', flightId),
        userId: caller.userId,
        ttlMs: this.holdTtlMs,
        createdAt: new Date(this.now()).toISOString(),
        limit: HOLD_LIMIT_PER_USER,
        salesCloseMs: this.salesCloseMs,
        seats,
      },
      idempotency,
    );
    if (!answer.replayed) countHold(answer);
    return { value: holdView(flightId, unwrap(answer).hold, this.now()), replayed: !!answer.replayed };
  }

  /**
   * A key names one request: once used on one flight it cannot be used for another's (the stored answer
   * lives in the flight's slot). The key is tied to the flight before the script runs, in one atomic
   * step, so two concurrent requests with one key for two flights cannot both go through.
   */
  private async claimKeyForFlight(caller: Caller, flightId: string, idempotency: IdempotencyClaim | undefined): Promise<void> {
    if (!idempotency) return;
    const tiedTo = await this.store.claimIdempotencyKeyForFlight(caller.userId, idempotency, flightId);
    if (tiedTo !== null && tiedTo !== flightId) throw new AppError('IDEMPOTENCY_KEY_REUSED');
  }

  /** Only the hold's owner sees it; to anyone else it does not exist. */
  async getHold(caller: Caller, holdId: string): Promise<HoldView> {
    const flightId = this.flightOf(holdId, 'HOLD_NOT_FOUND');
    const hold = await this.store.getHold(flightId, holdId);
    if (!hold || hold.userId !== caller.userId) throw new AppError('HOLD_NOT_FOUND');
    return holdView(flightId, hold, this.now());
  }

  async release(caller: Caller, holdId: string): Promise<void> {
    unwrap(await this.store.release(this.flightOf(holdId, 'HOLD_NOT_FOUND'), holdId, caller.userId));
  }

  async confirm(caller: Caller, holdId: string, details: CheckoutDetails): Promise<BookingView> {
    return (await this.confirmOnce(caller, holdId, details)).value;
  }

  /**
   * Checkout (API.md): pays for the caller's hold and books it. The hold records the checkout first
   * (its payment key, passengers, contact, total) and cannot expire while the payment runs; the charge is
   * made under the payment key, so a retry, a concurrent confirm or the payments sweep after a crash
   * reaches the same one charge. A decline leaves the hold as it was; a payment whose hold ended first
   * is refunded. With an Idempotency-Key, a repeat answers what the first request answered.
   */
  async confirmOnce(caller: Caller, holdId: string, details: CheckoutDetails, idempotency?: IdempotencyClaim): Promise<Once<BookingView>> {
    const flightId = this.flightOf(holdId, 'HOLD_NOT_FOUND');
    await this.claimKeyForFlight(caller, flightId, idempotency);
    const begun = await this.store.beginCheckout(
      flightId,
      { holdId, userId: caller.userId, guardMs: this.paymentGuardMs, salesCloseMs: this.salesCloseMs, details },
      idempotency,
    );
    if (begun.replayed) {
      const { booking } = unwrap(begun as unknown as ScriptAnswer<{ booking: Booking }>);
      await this.indexBooking(booking);
      return { value: bookingView(booking), replayed: true };
    }
    const { checkout } = unwrap(begun);
    const charge = await this.payments.charge({
      paymentKey: checkout.paymentKey,
      holdId,
      flightId,
      userId: caller.userId,
      amount: checkout.total.amount,
      currency: checkout.total.currency,
      ...(checkout.paymentMethod ? { paymentMethod: checkout.paymentMethod } : {}),
    });
    if (charge.status === 'declined') {
      const answer = JSON.stringify({ error: 'PAYMENT_DECLINED', declineCode: charge.declineCode, expired: 0 });
      await this.store.checkoutDeclined(flightId, { holdId, userId: caller.userId, paymentKey: checkout.paymentKey, answer }, idempotency);
      throw problemOf({ error: 'PAYMENT_DECLINED', declineCode: charge.declineCode, expired: 0 });
    }
    const completion = await this.completeCheckout(holdId, checkout.paymentKey, charge, idempotency, caller.userId);
    if (completion === 'gone') {
      await this.payments.refund(checkout.paymentKey).catch((error: Error) => log.warn('refund of a checkout whose hold ended failed; the payments sweep retries', { holdId, error: error.message }));
      throw new AppError('HOLD_EXPIRED', 'The hold ended before its payment completed; the payment is refunded');
    }
    if (!completion.replayed) count('Bookings');
    return { value: bookingView(completion.booking), replayed: completion.replayed };
  }

  /**
   * Books a paid checkout: the confirm that paid, a retry of it, or the payments sweep settling a
   * charge whose confirm died. The booking's reference is reserved first (another draw on a collision);
   * a reference left over when the booking already existed is given back.
   */
  async completeCheckout(holdId: string, paymentKey: string, payment: { provider: string; paymentId: string }, idempotency?: IdempotencyClaim, userId?: string): Promise<Completion> {
    const flightId = this.flightOf(holdId, 'HOLD_NOT_FOUND');
    for (let tries = 0; tries < REFERENCE_TRIES; tries += 1) {
      const bookingId = newId('b', flightId);
      const reference = newReference();
      if (!(await this.store.reserveReference(reference, bookingId))) continue;
      const answer = await this.store.completeCheckout(
        flightId,
        {
          holdId,
          paymentKey,
          payment,
          bookingId,
          reference,
          createdAt: new Date(this.now()).toISOString(),
          ticketNumbers: Array.from({ length: TICKETS_PER_REFERENCE }, (_, place) => ticketNumber(reference, place)),
        },
        idempotency,
        userId,
      );
      if ('error' in answer && answer.error === 'CHECKOUT_GONE') {
        await this.store.releaseReference(reference, bookingId);
        return 'gone';
      }
      const { booking } = unwrap(answer);
      if (booking.bookingId !== bookingId) await this.store.releaseReference(reference, bookingId);
      await this.indexBooking(booking);
      await this.payments.markBooked(paymentKey, booking.bookingId).catch((error: Error) => log.warn('could not link the payment to its booking; the payments sweep does', { paymentKey, error: error.message }));
      return { booking, replayed: !!answer.replayed || booking.bookingId !== bookingId };
    }
    throw new Error(`no free booking reference in ${REFERENCE_TRIES} draws`);
  }

  /**
   * The lists a booking is on (the traveller's, and every booking's) are indexes beside it, in other
   * slots; a repeat writes them again, which heals a list that lost the entry when the first request
   * died between the writes.
   */
  private async indexBooking(booking: Booking): Promise<void> {
    const createdAtMs = Date.parse(booking.createdAt);
    await Promise.all([this.store.indexUserBooking(booking.userId, booking.bookingId, createdAtMs), this.store.indexBooking(booking.bookingId, createdAtMs)]);
  }

  /** Manage my booking: a booking by its reference and a passenger's last name; one answer for every mismatch. */
  async lookup(reference: string, lastName: string): Promise<LookedUpBooking> {
    const canonical = reference.trim().toUpperCase();
    const bookingId = REFERENCE_PATTERN.test(canonical) ? await this.store.bookingIdOfReference(canonical) : undefined;
    const flightId = bookingId && flightOfId(bookingId);
    const booking = flightId ? await this.store.getBooking(flightId, bookingId) : undefined;
    const wanted = comparableName(lastName);
    if (!booking || !booking.passengers?.some((passenger) => comparableName(passenger.lastName) === wanted)) throw new AppError('BOOKING_NOT_FOUND');
    const { userId: _userId, contact: _contact, ...view } = bookingView(booking);
    return view;
  }

  async listBookings(caller: Caller, offset: number, limit: number): Promise<{ items: BookingView[]; nextOffset: number | null }> {
    const ids = await this.store.userBookingIds(caller.userId, offset, limit + 1);
    const page = ids.slice(0, limit);
    const bookings = await this.store.getBookings(page);
    return { items: bookings.map(bookingView), nextOffset: ids.length > limit ? offset + limit : null };
  }

  /** The owner or an admin; to anyone else the booking does not exist. */
  async getBooking(caller: Caller, bookingId: string): Promise<BookingView> {
    const booking = await this.store.getBooking(this.flightOf(bookingId, 'BOOKING_NOT_FOUND'), bookingId);
    if (!booking || (booking.userId !== caller.userId && caller.role !== 'admin')) throw new AppError('BOOKING_NOT_FOUND');
    return bookingView(booking);
  }

  /** Cancels a booking and refunds it (refund_pending until the provider confirms; the refund sweep retries). */
  async cancelBooking(caller: Caller, bookingId: string): Promise<BookingView> {
    const flightId = this.flightOf(bookingId, 'BOOKING_NOT_FOUND');
    // Marked before the change that makes it due, so no refund is forgotten if this process dies after it.
    await this.store.markRefundsDue(flightId);
    const { booking } = unwrap(
      await this.store.cancelBooking(flightId, {
        bookingId,
        callerId: caller.userId,
        isAdmin: caller.role === 'admin',
        cancelledAt: new Date(this.now()).toISOString(),
        salesCloseMs: this.salesCloseMs,
      }),
    );
    count('BookingsCancelled');
    return bookingView(await this.refund(booking));
  }

  async cancelFlight(flightId: string): Promise<{ holdsVoided: number; bookingsCancelled: number }> {
    await this.store.markRefundsDue(flightId);
    const result = unwrap(await this.store.cancelFlight(flightId, new Date(this.now()).toISOString()));
    count('BookingsCancelled', result.bookingsCancelled);
    return result;
  }

  /** Refunds a cancelled booking's payment now if the provider confirms it; otherwise it stays refund_pending. */
  private async refund(booking: Booking): Promise<Booking> {
    if (booking.payment?.status !== 'refund_pending') return booking;
    try {
      const refund = await this.payments.refund(booking.payment.paymentKey);
      if (refund.status !== 'refunded') return booking;
      return unwrap(await this.store.refundRecorded(booking.flightId, booking.bookingId, refund.refundedAt ?? new Date(this.now()).toISOString())).booking;
    } catch (error) {
      log.warn('refund not made yet; the refund sweep retries it', { bookingId: booking.bookingId, error: (error as Error).message });
      return booking;
    }
  }

  /**
   * The refund sweep (functions/seats/refunds.ts): for each flight with refunds due, oldest first, refunds
   * every cancelled booking still refund_pending, and forgets the flight once none is left.
   */
  async refundDue(maxFlights: number, concurrency = 8): Promise<{ flights: number; refunded: number; pending: number }> {
    let refunded = 0;
    let pending = 0;
    const flights = await this.store.refundsDue(maxFlights);
    for (const flightId of flights) {
      const due = (await this.store.flightBookings(flightId)).filter((booking) => booking.payment?.status === 'refund_pending');
      let left = 0;
      for (let i = 0; i < due.length; i += concurrency) {
        const done = await Promise.all(due.slice(i, i + concurrency).map((booking) => this.refund(booking)));
        left += done.filter((booking) => booking.payment.status === 'refund_pending').length;
      }
      refunded += due.length - left;
      pending += left;
      if (left === 0) await this.store.clearRefundsDue(flightId);
    }
    return { flights: flights.length, refunded, pending };
  }

  /** Every booking, oldest first, with its payment (for the payments audit). */
  async allBookings(offset: number, limit: number): Promise<{ items: Booking[]; nextOffset: number | null }> {
    const ids = await this.store.allBookingIds(offset, limit + 1);
    const items = await this.store.getBookings(ids.slice(0, limit));
    return { items, nextOffset: ids.length > limit ? offset + limit : null };
  }

  async audit(flightId: string): Promise<AuditReport> {
    const snapshot = await this.store.snapshot(flightId);
    if (!snapshot) throw new AppError('FLIGHT_NOT_FOUND');
    count('HoldsExpired', snapshot.expired);
    return auditSnapshot(snapshot);
  }
}
