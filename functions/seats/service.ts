import { randomBytes } from 'node:crypto';
import { AppError, type ErrorCode } from '../../lib/http/errors';
import type { Caller } from '../../lib/auth/roles';
import { auditSnapshot, type AuditReport } from './audit';
import { flightOfId } from './keys';
import { compareSeatIds, HOLD_LIMIT_PER_USER, type Booking, type HoldRecord, type MigrationOutcome, type MigrationPolicy, type Money, type SeatMapInput, type SeatMapView, type SeatView } from './model';
import { count } from '../../lib/observability';
import type { IdempotencyClaim } from './idempotency';
import type { ScriptAnswer, SeatStore } from './store';

/** The seats service's rules: seat maps with live status, holds, bookings, flight cancellation, audit. */

const newId = (prefix: 'h' | 'b', flightId: string) => `${prefix}_${flightId}_${randomBytes(12).toString('base64url')}`;

/** Turns a script's `{error}` answer into the problem the client sees; a replayed one says so in a header. */
function unwrap<T>(answer: ScriptAnswer<T>): T {
  if (!answer.replayed) count('HoldsExpired', answer.expired);
  if (!('error' in answer)) {
    const { ok: _ok, replayed: _replayed, expired: _expired, kick: _kick, statusVersion: _statusVersion, ...result } = answer;
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
  expiresAt: string;
  status: HoldRecord['status'];
  bookingId?: string;
}

export interface BookingView extends Omit<Booking, 'holdId'> {
  total: Money;
}

function holdView(flightId: string, hold: HoldRecord, nowMs: number): HoldView {
  const status = hold.status === 'active' && hold.expiresAtMs <= nowMs ? 'expired' : hold.status;
  return {
    holdId: hold.holdId,
    flightId,
    seats: hold.seats,
    expiresAt: new Date(hold.expiresAtMs).toISOString(),
    status,
    ...(hold.bookingId ? { bookingId: hold.bookingId } : {}),
  };
}

export function bookingView({ holdId: _holdId, ...booking }: Booking): BookingView {
  const amount = booking.seats.reduce((sum, seat) => sum + seat.price.amount, 0);
  return { ...booking, total: { amount, currency: booking.seats[0]?.price.currency ?? 'USD' } };
}

export class SeatService {
  constructor(
    private readonly store: SeatStore,
    private readonly holdTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private flightOf(id: string, notFound: ErrorCode): string {
    const flightId = flightOfId(id);
    if (!flightId) throw new AppError(notFound);
    return flightId;
  }

  async provision(flightId: string, mapVersion: number, seatMap: SeatMapInput): Promise<{ existed: boolean }> {
    return unwrap(await this.store.provision(flightId, mapVersion, seatMap));
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
      { holdId: newId('h', flightId), userId: caller.userId, ttlMs: this.holdTtlMs, createdAt: new Date(this.now()).toISOString(), limit: HOLD_LIMIT_PER_USER, seats },
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

  async confirm(caller: Caller, holdId: string): Promise<BookingView> {
    return (await this.confirmOnce(caller, holdId)).value;
  }

  /** A booking from a hold; with an Idempotency-Key, the first answer to that key instead of a second try. */
  async confirmOnce(caller: Caller, holdId: string, idempotency?: IdempotencyClaim): Promise<Once<BookingView>> {
    const flightId = this.flightOf(holdId, 'HOLD_NOT_FOUND');
    await this.claimKeyForFlight(caller, flightId, idempotency);
    const createdAt = new Date(this.now()).toISOString();
    const answer = await this.store.confirm(flightId, { holdId, userId: caller.userId, bookingId: newId('b', flightId), createdAt }, idempotency);
    const { booking } = unwrap(answer);
    if (!answer.replayed) count('Bookings');
    // The user's list is an index beside the booking (another slot); a replay writes it again, which
    // heals a list that lost the entry when the first request died between the two writes.
    await this.store.indexUserBooking(caller.userId, booking.bookingId, Date.parse(booking.createdAt));
    return { value: bookingView(booking), replayed: !!answer.replayed };
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

  async cancelBooking(caller: Caller, bookingId: string): Promise<BookingView> {
    const { booking } = unwrap(
      await this.store.cancelBooking(this.flightOf(bookingId, 'BOOKING_NOT_FOUND'), {
        bookingId,
        callerId: caller.userId,
        isAdmin: caller.role === 'admin',
        cancelledAt: new Date(this.now()).toISOString(),
      }),
    );
    count('BookingsCancelled');
    return bookingView(booking);
  }

  async cancelFlight(flightId: string): Promise<{ holdsVoided: number; bookingsCancelled: number }> {
    const result = unwrap(await this.store.cancelFlight(flightId, new Date(this.now()).toISOString()));
    count('BookingsCancelled', result.bookingsCancelled);
    return result;
  }

  async audit(flightId: string): Promise<AuditReport> {
    const snapshot = await this.store.snapshot(flightId);
    if (!snapshot) throw new AppError('FLIGHT_NOT_FOUND');
    count('HoldsExpired', snapshot.expired);
    return auditSnapshot(snapshot);
  }
}
