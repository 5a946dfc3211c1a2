import { redisScript, waitForReplicas, type RedisClient, type RedisScript } from '../../lib/clients/redis';
import { ALL_BOOKINGS_KEY, flightKeys, flightOfId, idempotencyFlightKey, NOTICES_DUE_KEY, NOTICES_KICK_KEY, referenceKey, REFUNDS_DUE_KEY, SCRIPT_KEY_COUNT, scriptKeys, userBookingsKey } from './keys';
import type { IdempotencyClaim } from './idempotency';
import { APPLY_SEAT_MAP, CANCEL_BOOKING, CANCEL_FLIGHT, CHECKOUT_BEGIN, CHECKOUT_COMPLETE, CHECKOUT_DECLINED, HOLD, PROVISION, READ_ALL, READ_SEATS, REFUND_RECORDED, RELEASE, RETIMED, SCHEDULE } from './lua';
import type { ScheduleTimes } from '../notifications/model';
import { seatInfo, type Booking, type Checkout, type CheckoutDetails, type HoldRecord, type MigrationOutcome, type SeatMapInput } from './model';

/**
 * The seats service's Redis store: a thin layer over the Lua scripts. Script answers are JSON:
 * `{ok: true, …}` or `{error: CODE, …}`; the domain turns errors into HTTP problems. The same code
 * serves a single server and a cluster: every script's keys share the flight's hash tag, and every
 * other command takes one key. Every change but a hold or a release (a booking and its cancel, a
 * flight's seats, cancel and migrations) is acknowledged only once the replicas have it
 * (lib/clients/redis.ts, waitForReplicas).
 */

export type ScriptAnswer<T> = (
  | ({ ok: true } & T)
  | { error: string; seats?: string[]; bookingId?: string; conflicts?: unknown[]; limit?: number; held?: number; fence?: number; lastFence?: number; declineCode?: string }
) & {
  /** How many holds the script found expired and ended on the way. */
  expired: number;
  /** The script changed a watched flight and asks for a broadcast (functions/seats/live). */
  kick?: boolean;
  /** How many booking emails the script recorded (notices.ts relays them). */
  noticed?: number;
  /** The flight's status version after a change (proof that a server has it). */
  statusVersion?: number;
  /** Set when the answer is the stored first answer to an Idempotency-Key, not a new change. */
  replayed?: true;
};

export interface NewHold {
  holdId: string;
  userId: string;
  ttlMs: number;
  createdAt: string;
  /** The most seats the user may hold on this flight, this hold included. */
  limit: number;
  /** Sales close this long before departure. */
  salesCloseMs: number;
  seats: string[];
}

/** A paid checkout's booking, as CHECKOUT_COMPLETE records it. */
export interface CompletedCheckout {
  holdId: string;
  paymentKey: string;
  payment: { provider: string; paymentId: string };
  bookingId: string;
  reference: string;
  createdAt: string;
  /** One per passenger, in the checkout's order. */
  ticketNumbers: string[];
}

export interface FlightSnapshot {
  meta: Record<string, string>;
  map: Record<string, string>;
  state: Record<string, string>;
  /** How many holds the read found expired and ended first. */
  expired: number;
}

export interface FullSnapshot extends FlightSnapshot {
  holds: Record<string, string>;
  activeHoldExpiries: Record<string, number>;
  bookings: Record<string, string>;
  nowMs: number;
  /** Seats a migration dropped that stay while held or booked. */
  retired: string[];
  /** Seats each person holds in live holds, as the hold cap counts them. */
  heldBy: Record<string, number>;
}

export interface SeatStore {
  provision(flightId: string, mapVersion: number, departsAtMs: number, seatMap: SeatMapInput): Promise<ScriptAnswer<{ existed: boolean }>>;
  schedule(flightId: string, departsAtMs: number): Promise<ScriptAnswer<object>>;
  hold(flightId: string, hold: NewHold, idempotency?: IdempotencyClaim): Promise<ScriptAnswer<{ hold: HoldRecord }>>;
  beginCheckout(
    flightId: string,
    args: { holdId: string; userId: string; guardMs: number; salesCloseMs: number; details: CheckoutDetails },
    idempotency?: IdempotencyClaim,
  ): Promise<ScriptAnswer<{ checkout: Checkout }>>;
  /** Ends a declined checkout and keeps `answer` (the decline) for the request's Idempotency-Key. */
  checkoutDeclined(flightId: string, args: { holdId: string; userId: string; paymentKey: string; answer: string }, idempotency?: IdempotencyClaim): Promise<void>;
  completeCheckout(flightId: string, args: CompletedCheckout, idempotency?: IdempotencyClaim, userId?: string): Promise<ScriptAnswer<{ booking: Booking }>>;
  /** Reserves a reference for a booking; false when another booking has it. */
  reserveReference(reference: string, bookingId: string): Promise<boolean>;
  releaseReference(reference: string, bookingId: string): Promise<void>;
  bookingIdOfReference(reference: string): Promise<string | undefined>;
  refundRecorded(flightId: string, bookingId: string, refundedAt: string): Promise<ScriptAnswer<{ booking: Booking }>>;
  /** Flights with refunds to make, oldest first; marked before the change that makes them due. */
  markRefundsDue(flightId: string): Promise<void>;
  refundsDue(count: number): Promise<string[]>;
  clearRefundsDue(flightId: string): Promise<void>;
  flightBookings(flightId: string): Promise<Booking[]>;
  indexBooking(bookingId: string, createdAtMs: number): Promise<void>;
  allBookingIds(offset: number, count: number): Promise<string[]>;
  /**
   * Ties a user's Idempotency-Key to a flight, atomically, unless it is tied already: returns the
   * flight it was tied to before (null when this call tied it).
   */
  claimIdempotencyKeyForFlight(userId: string, claim: IdempotencyClaim, flightId: string): Promise<string | null>;
  release(flightId: string, holdId: string, userId: string): Promise<ScriptAnswer<object>>;
  cancelBooking(flightId: string, args: { bookingId: string; callerId: string; isAdmin: boolean; cancelledAt: string; salesCloseMs: number }): Promise<ScriptAnswer<{ booking: Booking }>>;
  cancelFlight(flightId: string, cancelledAt: string): Promise<ScriptAnswer<{ holdsVoided: number; bookingsCancelled: number }>>;
  /** Records a time-change email for each confirmed booking of the flight, once per change id. */
  retimed(flightId: string, change: { changeId: string; previous: ScheduleTimes; current: ScheduleTimes }): Promise<ScriptAnswer<{ repeated: boolean }>>;
  /** Flights whose scripts may have recorded notices, with when each was last marked (ms), oldest first. */
  noticesDue(count: number): Promise<{ flightId: string; markedAt: number }[]>;
  /** A flight's recorded notices, oldest first: the stream entry's id and the event (JSON). */
  notices(flightId: string, count: number): Promise<{ entryId: string; event: string }[]>;
  dropNotices(flightId: string, entryIds: string[]): Promise<void>;
  /** A relay run starts: the next change that records notices starts another. */
  relayStarting(): Promise<void>;
  /** Unmarks a flight whose notices are all handed over, unless it was marked again since `markedAt`. */
  clearNoticesDue(flightId: string, markedAt: number): Promise<void>;
  applySeatMap(flightId: string, args: { fenceToken: number; policy: 'reject' | 'keep'; seatMap: SeatMapInput }): Promise<ScriptAnswer<MigrationOutcome>>;
  seats(flightId: string): Promise<FlightSnapshot | undefined>;
  snapshot(flightId: string): Promise<FullSnapshot | undefined>;
  getHold(flightId: string, holdId: string): Promise<HoldRecord | undefined>;
  getBooking(flightId: string, bookingId: string): Promise<Booking | undefined>;
  getBookings(ids: string[]): Promise<Booking[]>;
  indexUserBooking(userId: string, bookingId: string, createdAtMs: number): Promise<void>;
  userBookingIds(userId: string, offset: number, count: number): Promise<string[]>;
}

/** What `idempotent` in lua.ts puts before a stored answer it replays. */
const REPLAY_MARK = 'replay\n';

/** Seat id / seat JSON pairs as the scripts take them; one encoding, so equal seats compare equal in Lua. */
const seatArgs = (seatMap: SeatMapInput) => seatMap.seats.flatMap((seat) => [seat.id, seatInfo(seat)]);

/** Starts a broadcast of a flight's changes to its watchers; never fails the request that changed it. */
export type BroadcastKick = (flightId: string) => Promise<void>;
/** Starts the relay of recorded booking emails (notices-relay.ts); never fails the request that recorded them. */
export type NoticesKick = () => Promise<void>;

/** How long a relay start may take before another may be asked for (a lost invoke is not waited on for long). */
const RELAY_KICK_MS = 10_000;

/** Removes a flight from the notices' to-do list only if nobody marked it since it was read. */
const CLEAR_NOTICES_DUE = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`;

const pairs = (flat: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
};

export class RedisSeatStore implements SeatStore {
  private readonly scripts: Record<
    | 'provision'
    | 'schedule'
    | 'hold'
    | 'beginCheckout'
    | 'checkoutDeclined'
    | 'completeCheckout'
    | 'release'
    | 'cancelBooking'
    | 'cancelFlight'
    | 'refundRecorded'
    | 'retimed'
    | 'applySeatMap'
    | 'readSeats'
    | 'readAll',
    RedisScript
  >;
  private readonly clearNoticesDueScript: RedisScript;

  constructor(
    private readonly redis: RedisClient,
    private readonly kick: BroadcastKick = async () => undefined,
    private readonly kickNotices: NoticesKick = async () => undefined,
  ) {
    const define = (name: string, lua: string) => redisScript(redis, name, lua, SCRIPT_KEY_COUNT);
    this.clearNoticesDueScript = redisScript(redis, 'seatsClearNoticesDue', CLEAR_NOTICES_DUE, 1);
    this.scripts = {
      provision: define('seatsProvision', PROVISION),
      schedule: define('seatsSchedule', SCHEDULE),
      hold: define('seatsHold', HOLD),
      beginCheckout: define('seatsCheckoutBegin', CHECKOUT_BEGIN),
      checkoutDeclined: define('seatsCheckoutDeclined', CHECKOUT_DECLINED),
      completeCheckout: define('seatsCheckoutComplete', CHECKOUT_COMPLETE),
      refundRecorded: define('seatsRefundRecorded', REFUND_RECORDED),
      retimed: define('seatsRetimed', RETIMED),
      release: define('seatsRelease', RELEASE),
      cancelBooking: define('seatsCancelBooking', CANCEL_BOOKING),
      cancelFlight: define('seatsCancelFlight', CANCEL_FLIGHT),
      applySeatMap: define('seatsApplySeatMap', APPLY_SEAT_MAP),
      readSeats: define('seatsRead', READ_SEATS),
      readAll: define('seatsReadAll', READ_ALL),
    };
  }

  private async run<T>(runner: RedisScript, flightId: string, args: (string | number)[]): Promise<ScriptAnswer<T>> {
    return this.broadcastIfAsked(flightId, JSON.parse(String(await runner(scriptKeys(flightId), args))) as ScriptAnswer<T>);
  }

  /** A replayed answer asks for nothing: its change was broadcast when it was made. */
  private async broadcastIfAsked<A extends { kick?: boolean | number; replayed?: true }>(flightId: string, answer: A): Promise<A> {
    if (answer.kick && !answer.replayed) await this.kick(flightId);
    return answer;
  }

  /**
   * A change that may record booking emails. The flight goes on the notices' to-do list first (another
   * slot, so not in the script): a relay that finds nothing yet only unmarks it well after this mark
   * (notices-relay.ts), and a process that dies after the script leaves it marked. The relay starts at
   * once when the script recorded any.
   */
  private async noticing<A extends { noticed?: number; replayed?: true }>(flightId: string, change: () => Promise<A>): Promise<A> {
    await this.redis.zadd(NOTICES_DUE_KEY, Date.now(), flightId);
    const answer = await change();
    // One relay start while one is due (the relay clears the flag as it starts), not one per booking.
    if (answer.noticed && !answer.replayed && (await this.redis.set(NOTICES_KICK_KEY, '1', 'PX', RELAY_KICK_MS, 'NX'))) await this.kickNotices();
    return answer;
  }

  async relayStarting(): Promise<void> {
    await this.redis.del(NOTICES_KICK_KEY);
  }

  /** A change that must not be lost in a failover: answered once the replicas hold it. */
  private async replicated<T>(flightId: string, change: Promise<ScriptAnswer<T>>): Promise<ScriptAnswer<T>> {
    const answer = await change;
    if ('ok' in answer) {
      const keys = flightKeys(flightId);
      await waitForReplicas(this.redis, { ackKey: keys.acks, versionKey: keys.meta, version: answer.statusVersion ?? 0 });
    }
    return answer;
  }

  /** A script that takes an Idempotency-Key: its record is the last key, fingerprint and TTL the first arguments. */
  private async runOnce<T>(runner: RedisScript, flightId: string, userId: string, claim: IdempotencyClaim | undefined, args: (string | number)[]) {
    const keys = scriptKeys(flightId, claim && { userId, keyDigest: claim.keyDigest });
    const raw = String(await runner(keys, [claim?.fingerprint ?? '', claim?.ttlSeconds ?? 0, ...args]));
    const replayed = raw.startsWith(REPLAY_MARK);
    const answer = JSON.parse(replayed ? raw.slice(REPLAY_MARK.length) : raw) as ScriptAnswer<T>;
    return this.broadcastIfAsked(flightId, replayed ? { ...answer, replayed: true as const } : answer);
  }

  provision(flightId: string, mapVersion: number, departsAtMs: number, seatMap: SeatMapInput) {
    return this.replicated(flightId, this.run<{ existed: boolean }>(this.scripts.provision, flightId, [mapVersion, departsAtMs, ...seatArgs(seatMap)]));
  }

  schedule(flightId: string, departsAtMs: number) {
    return this.replicated(flightId, this.run<object>(this.scripts.schedule, flightId, [departsAtMs]));
  }

  hold(flightId: string, hold: NewHold, idempotency?: IdempotencyClaim) {
    return this.runOnce<{ hold: HoldRecord }>(this.scripts.hold, flightId, hold.userId, idempotency, [
      hold.holdId,
      hold.userId,
      hold.ttlMs,
      hold.createdAt,
      hold.limit,
      hold.salesCloseMs,
      ...hold.seats,
    ]);
  }

  beginCheckout(flightId: string, args: { holdId: string; userId: string; guardMs: number; salesCloseMs: number; details: CheckoutDetails }, idempotency?: IdempotencyClaim) {
    return this.runOnce<{ checkout: Checkout }>(this.scripts.beginCheckout, flightId, args.userId, idempotency, [
      args.holdId,
      args.userId,
      args.guardMs,
      args.salesCloseMs,
      JSON.stringify(args.details),
    ]);
  }

  async checkoutDeclined(flightId: string, args: { holdId: string; userId: string; paymentKey: string; answer: string }, idempotency?: IdempotencyClaim) {
    await this.runOnce(this.scripts.checkoutDeclined, flightId, args.userId, idempotency, [args.holdId, args.paymentKey, args.answer]);
  }

  completeCheckout(flightId: string, args: CompletedCheckout, idempotency?: IdempotencyClaim, userId = '') {
    return this.noticing(flightId, () =>
      this.replicated(
        flightId,
        this.runOnce<{ booking: Booking }>(this.scripts.completeCheckout, flightId, userId, idempotency, [
          args.holdId,
          args.paymentKey,
          JSON.stringify(args.payment),
          args.bookingId,
          args.reference,
          args.createdAt,
          flightId,
          args.ticketNumbers.join(','),
        ]),
      ),
    );
  }

  async reserveReference(reference: string, bookingId: string): Promise<boolean> {
    return (await this.redis.set(referenceKey(reference), bookingId, 'NX')) === 'OK';
  }

  async releaseReference(reference: string, bookingId: string): Promise<void> {
    if ((await this.redis.get(referenceKey(reference))) === bookingId) await this.redis.del(referenceKey(reference));
  }

  async bookingIdOfReference(reference: string): Promise<string | undefined> {
    return (await this.redis.get(referenceKey(reference))) ?? undefined;
  }

  refundRecorded(flightId: string, bookingId: string, refundedAt: string) {
    return this.replicated(flightId, this.run<{ booking: Booking }>(this.scripts.refundRecorded, flightId, [bookingId, refundedAt]));
  }

  async markRefundsDue(flightId: string): Promise<void> {
    await this.redis.zadd(REFUNDS_DUE_KEY, 'NX', Date.now(), flightId);
  }

  refundsDue(count: number): Promise<string[]> {
    return this.redis.zrange(REFUNDS_DUE_KEY, 0, count - 1);
  }

  async clearRefundsDue(flightId: string): Promise<void> {
    await this.redis.zrem(REFUNDS_DUE_KEY, flightId);
  }

  async flightBookings(flightId: string): Promise<Booking[]> {
    return (await this.redis.hvals(flightKeys(flightId).bookings)).map((raw) => JSON.parse(raw) as Booking);
  }

  async indexBooking(bookingId: string, createdAtMs: number): Promise<void> {
    await this.redis.zadd(ALL_BOOKINGS_KEY, createdAtMs, bookingId);
  }

  allBookingIds(offset: number, count: number): Promise<string[]> {
    return this.redis.zrange(ALL_BOOKINGS_KEY, offset, offset + count - 1);
  }

  async claimIdempotencyKeyForFlight(userId: string, claim: IdempotencyClaim, flightId: string): Promise<string | null> {
    // SET NX GET: sets when absent and answers what was there, in one step (Redis 7).
    return (await this.redis.call('SET', idempotencyFlightKey(userId, claim.keyDigest), flightId, 'EX', claim.ttlSeconds, 'NX', 'GET')) as string | null;
  }

  release(flightId: string, holdId: string, userId: string) {
    return this.run<object>(this.scripts.release, flightId, [holdId, userId]);
  }

  cancelBooking(flightId: string, args: { bookingId: string; callerId: string; isAdmin: boolean; cancelledAt: string; salesCloseMs: number }) {
    return this.noticing(flightId, () =>
      this.replicated(
        flightId,
        this.run<{ booking: Booking }>(this.scripts.cancelBooking, flightId, [args.bookingId, args.callerId, args.isAdmin ? '1' : '0', args.cancelledAt, args.salesCloseMs]),
      ),
    );
  }

  cancelFlight(flightId: string, cancelledAt: string) {
    return this.noticing(flightId, () => this.replicated(flightId, this.run<{ holdsVoided: number; bookingsCancelled: number }>(this.scripts.cancelFlight, flightId, [cancelledAt])));
  }

  retimed(flightId: string, change: { changeId: string; previous: ScheduleTimes; current: ScheduleTimes }) {
    return this.noticing(flightId, () =>
      this.replicated(flightId, this.run<{ repeated: boolean }>(this.scripts.retimed, flightId, [change.changeId, JSON.stringify(change.previous), JSON.stringify(change.current)])),
    );
  }

  async noticesDue(count: number): Promise<{ flightId: string; markedAt: number }[]> {
    const flat = await this.redis.zrange(NOTICES_DUE_KEY, 0, count - 1, 'WITHSCORES');
    return Object.entries(pairs(flat)).map(([flightId, score]) => ({ flightId, markedAt: Number(score) }));
  }

  async notices(flightId: string, count: number): Promise<{ entryId: string; event: string }[]> {
    const entries = await this.redis.xrange(flightKeys(flightId).notices, '-', '+', 'COUNT', count);
    return entries.map(([entryId, fields]) => ({ entryId, event: pairs(fields).event ?? '' }));
  }

  async dropNotices(flightId: string, entryIds: string[]): Promise<void> {
    if (entryIds.length > 0) await this.redis.xdel(flightKeys(flightId).notices, ...entryIds);
  }

  async clearNoticesDue(flightId: string, markedAt: number): Promise<void> {
    await this.clearNoticesDueScript([NOTICES_DUE_KEY], [flightId, String(markedAt)]);
  }

  async applySeatMap(flightId: string, args: { fenceToken: number; policy: 'reject' | 'keep'; seatMap: SeatMapInput }) {
    const answer = await this.replicated(flightId, this.run<MigrationOutcome>(this.scripts.applySeatMap, flightId, [args.fenceToken, args.policy, ...seatArgs(args.seatMap)]));
    // cjson writes an empty Lua table as {}, not []
    if ('conflicts' in answer && !Array.isArray(answer.conflicts)) answer.conflicts = [];
    return answer;
  }

  async seats(flightId: string): Promise<FlightSnapshot | undefined> {
    const result = (await this.scripts.readSeats(scriptKeys(flightId), [])) as [string[], string[], string[], number, number] | null;
    if (!result) return undefined;
    await this.broadcastIfAsked(flightId, { kick: result[4] });
    return { meta: pairs(result[0]), map: pairs(result[1]), state: pairs(result[2]), expired: result[3] };
  }

  async snapshot(flightId: string): Promise<FullSnapshot | undefined> {
    const result = (await this.scripts.readAll(scriptKeys(flightId), [])) as [string[], string[], string[], string[], string[], string[], string, string[], string[], number, number] | null;
    if (!result) return undefined;
    await this.broadcastIfAsked(flightId, { kick: result[10] });
    const expiries = pairs(result[4]);
    return {
      meta: pairs(result[0]),
      map: pairs(result[1]),
      state: pairs(result[2]),
      holds: pairs(result[3]),
      activeHoldExpiries: Object.fromEntries(Object.entries(expiries).map(([id, score]) => [id, Number(score)])),
      bookings: pairs(result[5]),
      nowMs: Number(result[6]),
      retired: result[7],
      heldBy: Object.fromEntries(Object.entries(pairs(result[8])).map(([userId, count]) => [userId, Number(count)])),
      expired: result[9],
    };
  }

  async getHold(flightId: string, holdId: string): Promise<HoldRecord | undefined> {
    const raw = await this.redis.hget(flightKeys(flightId).holds, holdId);
    return raw ? (JSON.parse(raw) as HoldRecord) : undefined;
  }

  async getBooking(flightId: string, bookingId: string): Promise<Booking | undefined> {
    const raw = await this.redis.hget(flightKeys(flightId).bookings, bookingId);
    return raw ? (JSON.parse(raw) as Booking) : undefined;
  }

  async getBookings(ids: string[]): Promise<Booking[]> {
    // One read per booking, not a pipeline: a user's bookings are on many flights, so in many slots.
    // ioredis writes them back to back on each connection, which costs what a pipeline would.
    const raws = await Promise.all(ids.map((id) => this.redis.hget(flightKeys(flightOfId(id)!).bookings, id)));
    return raws.flatMap((raw) => (raw ? [JSON.parse(raw) as Booking] : []));
  }

  async indexUserBooking(userId: string, bookingId: string, createdAtMs: number): Promise<void> {
    await this.redis.zadd(userBookingsKey(userId), createdAtMs, bookingId);
  }

  async userBookingIds(userId: string, offset: number, count: number): Promise<string[]> {
    return this.redis.zrange(userBookingsKey(userId), offset, offset + count - 1);
  }
}
