import { randomUUID } from 'node:crypto';
import { closeRedis, redis } from '../../lib/clients/redis';
import { AppError } from '../../lib/http/errors';
import type { Caller } from '../../lib/auth/roles';
import { RedisSeatStore } from '../../functions/seats/store';
import { idempotencyClaim } from '../../functions/seats/idempotency';
import { userBookingsKey } from '../../functions/seats/keys';
import { ON_SALE_DEPARTURE, seatMap, testFlightId } from '../support/seats';
import { book, checkoutFor, payingSeatService } from '../support/checkout';

/** The seats service against a real redis-server: Lua scripts, contention, expiry, idempotency. */

const user = (): Caller => ({ userId: randomUUID(), role: 'user', email: '' });
const admin: Caller = { userId: randomUUID(), role: 'admin', email: '' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const codeOf = (error: unknown) => (error instanceof AppError ? error.code : String(error));

describe('seats on redis-server', () => {
  const store = new RedisSeatStore(redis());
  const seats = payingSeatService(store, 60_000);
  afterAll(closeRedis);

  async function newFlight(rows = 3, letters = 'ABCDEF') {
    const flightId = testFlightId();
    await seats.provision(flightId, 1, ON_SALE_DEPARTURE, seatMap(rows, letters));
    return flightId;
  }

  it('200 concurrent users race for the last seat: exactly one hold wins and exactly one booking exists', async () => {
    const flightId = await newFlight(1, 'AB');
    const early = user();
    await book(seats, early, (await seats.hold(early, flightId, ['1A'])));

    const racers = Array.from({ length: 200 }, user);
    const attempts = await Promise.allSettled(racers.map((racer) => seats.hold(racer, flightId, ['1B'])));
    const winners = attempts.flatMap((a, i) => (a.status === 'fulfilled' ? [{ racer: racers[i]!, hold: a.value }] : []));
    expect(winners).toHaveLength(1);
    expect(attempts.filter((a) => a.status === 'rejected').map((a) => codeOf((a as PromiseRejectedResult).reason))).toEqual(Array(199).fill('SEAT_UNAVAILABLE'));

    // Everyone but the winner tries to book the winner's hold, and the winner twice at once: one charge,
    // one booking, which both of the winner's confirms answer (the second joins the payment in flight).
    const strangers = racers.filter((racer) => racer !== winners[0]!.racer).slice(0, 50);
    const confirms = await Promise.allSettled([...strangers, winners[0]!.racer, winners[0]!.racer].map((racer) => book(seats, racer, winners[0]!.hold)));
    const booked = confirms.flatMap((c) => (c.status === 'fulfilled' ? [c.value.bookingId] : []));
    expect(new Set(booked).size).toBe(1);
    expect(confirms.filter((c) => c.status === 'rejected').map((c) => codeOf((c as PromiseRejectedResult).reason))).toEqual(Array(50).fill('FORBIDDEN'));
    const report = await seats.audit(flightId);
    expect(report).toEqual({ ok: true, counts: { available: 0, held: 0, booked: 2, total: 2 }, problems: [] });
  });

  describe('the hold cap: at most 9 seats per person per flight, all live holds together', () => {
    it('refuses the hold that would pass 9 seats, atomically, whatever the holds it comes in', async () => {
      const flightId = await newFlight(5);
      const greedy = user();
      await seats.hold(greedy, flightId, ['1A', '1B', '1C', '1D']);
      await seats.hold(greedy, flightId, ['2A', '2B', '2C', '2D']);
      const refused = await seats.hold(greedy, flightId, ['3A', '3B']).catch((e) => e);
      expect(refused).toMatchObject({ code: 'HOLD_LIMIT_REACHED', status: 409, extensions: { limit: 9, held: 8 } });
      await seats.hold(greedy, flightId, ['3A']);
      await expect(seats.hold(greedy, flightId, ['3B'])).rejects.toMatchObject({ code: 'HOLD_LIMIT_REACHED', extensions: { held: 9 } });
      // Another person, and the same person on another flight, are not affected.
      await expect(seats.hold(user(), flightId, ['4A', '4B', '4C'])).resolves.toMatchObject({ seats: ['4A', '4B', '4C'] });
      await expect(seats.hold(greedy, await newFlight(), ['1A'])).resolves.toMatchObject({ seats: ['1A'] });
      expect((await seats.seatMap(flightId)).counts.held).toBe(12);
      expect((await seats.audit(flightId)).ok).toBe(true);
    });

    it('counts 20 concurrent one-seat holds of one person: exactly 9 win', async () => {
      const flightId = await newFlight(4);
      const greedy = user();
      const ids = seatMap(4).seats.map((seat) => seat.id).slice(0, 20);
      const attempts = await Promise.allSettled(ids.map((seat) => seats.hold(greedy, flightId, [seat])));
      expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(9);
      expect(attempts.filter((a) => a.status === 'rejected').map((a) => codeOf((a as PromiseRejectedResult).reason))).toEqual(Array(11).fill('HOLD_LIMIT_REACHED'));
      expect((await seats.audit(flightId)).ok).toBe(true);
    });

    it('gives the allowance back when a hold is released, confirmed or expires', async () => {
      const shortLived = payingSeatService(store, 300);
      const flightId = await newFlight(5);
      const traveller = user();
      const released = await seats.hold(traveller, flightId, ['1A', '1B', '1C']);
      const confirmed = await seats.hold(traveller, flightId, ['2A', '2B', '2C']);
      await shortLived.hold(traveller, flightId, ['3A', '3B', '3C']);
      await expect(seats.hold(traveller, flightId, ['4A'])).rejects.toMatchObject({ code: 'HOLD_LIMIT_REACHED' });
      await seats.release(traveller, released.holdId);
      await book(seats, traveller, confirmed);
      await sleep(400);
      // Booked seats do not count: all nine are free to hold again.
      await expect(seats.hold(traveller, flightId, ['4A', '4B', '4C', '4D', '4E', '4F', '5A', '5B', '5C'])).resolves.toMatchObject({ seats: expect.any(Array) });
      const report = await seats.audit(flightId);
      expect(report).toMatchObject({ ok: true, counts: { held: 9, booked: 3 } });
    });

    it('frees the allowance of everyone when the flight is cancelled', async () => {
      const flightId = await newFlight();
      const traveller = user();
      await seats.hold(traveller, flightId, ['1A', '1B']);
      await seats.cancelFlight(flightId);
      const snapshot = await store.snapshot(flightId);
      expect(snapshot?.heldBy).toEqual({});
    });
  });

  it('holds are all-or-nothing and tell which seats are taken', async () => {
    const flightId = await newFlight();
    await seats.hold(user(), flightId, ['1A', '1B']);
    const error = await seats.hold(user(), flightId, ['1C', '1B', '2A']).catch((e) => e);
    expect(error).toMatchObject({ code: 'SEAT_UNAVAILABLE', extensions: { unavailable: ['1B'] } });
    const view = await seats.seatMap(flightId);
    expect(view.counts).toEqual({ available: 16, held: 2, booked: 0, total: 18 });
    await expect(seats.hold(user(), flightId, ['1A', '99K'])).rejects.toMatchObject({ code: 'SEAT_NOT_FOUND' });
    await expect(seats.hold(user(), testFlightId(), ['1A'])).rejects.toMatchObject({ code: 'FLIGHT_NOT_FOUND' });
  });

  it('an expired hold frees its seats without any job, and confirming it is 410 and books nothing', async () => {
    const shortLived = payingSeatService(store, 300);
    const flightId = await newFlight();
    const owner = user();
    const hold = await shortLived.hold(owner, flightId, ['2A', '2B']);
    const versionWhileHeld = (await shortLived.seatMap(flightId)).version;
    await sleep(450);
    await expect(book(shortLived, owner, hold)).rejects.toMatchObject({ code: 'HOLD_EXPIRED', status: 410 });
    const view = await shortLived.seatMap(flightId);
    expect(view.counts.held).toBe(0);
    expect(view.version).toBeGreaterThan(versionWhileHeld);
    await expect(seats.hold(user(), flightId, ['2A'])).resolves.toMatchObject({ seats: ['2A'] });
    expect(await shortLived.listBookings(owner, 0, 10)).toEqual({ items: [], nextOffset: null });
  });

  it('only the owner confirms, sees or releases a hold; an admin reads and cancels any booking', async () => {
    const flightId = await newFlight();
    const owner = user();
    const other = user();
    const hold = await seats.hold(owner, flightId, ['3A']);
    await expect(book(seats, other, hold)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(seats.getHold(other, hold.holdId)).rejects.toMatchObject({ code: 'HOLD_NOT_FOUND' });
    await seats.release(other, hold.holdId).catch(() => undefined);
    expect((await seats.getHold(owner, hold.holdId)).status).toBe('active');

    const booking = await book(seats, owner, hold);
    await expect(book(seats, owner, hold)).rejects.toMatchObject({ code: 'HOLD_ALREADY_CONFIRMED' });
    await expect(seats.getBooking(other, booking.bookingId)).rejects.toMatchObject({ code: 'BOOKING_NOT_FOUND' });
    await expect(seats.getBooking(admin, booking.bookingId)).resolves.toMatchObject({ bookingId: booking.bookingId });
    await expect(seats.cancelBooking(other, booking.bookingId)).rejects.toMatchObject({ code: 'BOOKING_NOT_FOUND' });
    await expect(seats.cancelBooking(admin, booking.bookingId)).resolves.toMatchObject({ status: 'cancelled' });
    await expect(seats.cancelBooking(owner, booking.bookingId)).rejects.toMatchObject({ code: 'ALREADY_CANCELLED' });
    expect((await seats.seatMap(flightId)).counts.available).toBe(18);
  });

  it('cancelling a flight voids its holds and marks its bookings flight_cancelled', async () => {
    const flightId = await newFlight();
    const owner = user();
    const booking = await book(seats, owner, (await seats.hold(owner, flightId, ['1A'])));
    const hold = await seats.hold(owner, flightId, ['1B']);
    expect(await seats.cancelFlight(flightId)).toEqual({ holdsVoided: 1, bookingsCancelled: 1 });
    expect(await seats.cancelFlight(flightId)).toEqual({ holdsVoided: 0, bookingsCancelled: 0 });
    expect((await seats.getBooking(owner, booking.bookingId)).status).toBe('flight_cancelled');
    expect((await seats.getHold(owner, hold.holdId)).status).toBe('voided');
    await expect(seats.hold(owner, flightId, ['2A'])).rejects.toMatchObject({ code: 'FLIGHT_CANCELLED' });
    expect((await seats.audit(flightId)).ok).toBe(true);
  });

  it('a randomized storm of holds, confirms, releases, cancels and expiries over 180 seats ends with the audit ok', async () => {
    const stormy = payingSeatService(store, 200);
    const flightId = testFlightId();
    await stormy.provision(flightId, 1, ON_SALE_DEPARTURE, seatMap(30));
    const users = Array.from({ length: 40 }, user);
    const ids = seatMap(30).seats.map((s) => s.id);
    const pick = (n: number) => Array.from(new Set(Array.from({ length: n }, () => ids[Math.floor(Math.random() * ids.length)]!)));
    const outcomes = new Map<string, number>();
    const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);

    const worker = async (me: Caller) => {
      for (let i = 0; i < 15; i += 1) {
        try {
          const hold = await stormy.hold(me, flightId, pick(1 + Math.floor(Math.random() * 4)));
          const roll = Math.random();
          if (roll < 0.2) await sleep(250);
          if (roll < 0.6) {
            const booking = await book(stormy, me, hold);
            if (Math.random() < 0.3) await stormy.cancelBooking(me, booking.bookingId);
            count('booked');
          } else if (roll < 0.8) {
            await stormy.release(me, hold.holdId);
            count('released');
          } else count('left to expire');
        } catch (error) {
          count(codeOf(error));
        }
      }
    };
    await Promise.all(users.map(worker));
    expect(outcomes.get('booked')).toBeGreaterThan(0);
    expect([...outcomes.keys()].filter((k) => !['booked', 'released', 'left to expire', 'SEAT_UNAVAILABLE', 'HOLD_EXPIRED', 'HOLD_LIMIT_REACHED'].includes(k))).toEqual([]);
    const report = await stormy.audit(flightId);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.counts.available + report.counts.held + report.counts.booked).toBe(180);
  });

  describe('Idempotency-Key (stored by the script that makes the change)', () => {
    const claim = (key: string, body: unknown = { seats: ['1A'] }, path = '/x') => idempotencyClaim({ key, method: 'POST', path, body }, 60)!;

    it('three concurrent confirms with one key make one booking; the others replay its answer', async () => {
      const flightId = await newFlight();
      const owner = user();
      const hold = await seats.hold(owner, flightId, ['1A']);
      const key = claim('confirm-1', null);
      const answers = await Promise.all([1, 2, 3].map(() => seats.confirmOnce(owner, hold.holdId, checkoutFor(hold.seats), key)));
      expect(new Set(answers.map((a) => a.value.bookingId)).size).toBe(1);
      expect(answers.map((a) => a.replayed).sort()).toEqual([false, true, true]);
      expect(answers[1]!.value).toEqual(answers[0]!.value);
      expect((await seats.listBookings(owner, 0, 10)).items).toHaveLength(1);
      expect((await seats.audit(flightId)).ok).toBe(true);
    });

    it('replays an error answer too, refuses the key with another request (422) and a malformed key (400)', async () => {
      const flightId = await newFlight();
      const owner = user();
      const rival = user();
      const rivalHold = await seats.hold(rival, flightId, ['1A']);
      const key = claim('k');
      await expect(seats.holdOnce(owner, flightId, ['1A'], key)).rejects.toMatchObject({ code: 'SEAT_UNAVAILABLE' });
      await seats.release(rival, rivalHold.holdId);
      // The seat is free now, but the answer to this key was "unavailable", and it stays that.
      await expect(seats.holdOnce(owner, flightId, ['1A'], key)).rejects.toMatchObject({ code: 'SEAT_UNAVAILABLE', headers: { 'idempotent-replayed': 'true' } });
      await expect(seats.holdOnce(owner, flightId, ['2B'], claim('k', { seats: ['2B'] }))).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
      expect(() => claim('x'.repeat(129))).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    });

    it('refuses a key used on one flight for a request on another, also when both arrive at once', async () => {
      const owner = user();
      const key = claim('same-key', { seats: ['1A'] });
      await seats.holdOnce(owner, await newFlight(), ['1A'], key);
      await expect(seats.holdOnce(owner, await newFlight(), ['1A'], key)).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });

      const racer = user();
      const racing = claim('racing-key', { seats: ['1A'] });
      const flights = await Promise.all(Array.from({ length: 6 }, () => newFlight()));
      const answers = await Promise.allSettled(flights.map((flightId) => seats.holdOnce(racer, flightId, ['1A'], racing)));
      expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
      expect(answers.filter((a) => a.status === 'rejected').map((a) => codeOf((a as PromiseRejectedResult).reason))).toEqual(Array(5).fill('IDEMPOTENCY_KEY_REUSED'));
    });

    it("a replayed confirm puts the booking back on the user's list if the first request died before writing it", async () => {
      const flightId = await newFlight();
      const owner = user();
      const hold = await seats.hold(owner, flightId, ['1A']);
      const key = claim('heal', null);
      const first = await seats.confirmOnce(owner, hold.holdId, checkoutFor(hold.seats), key);
      await redis().del(userBookingsKey(owner.userId));
      expect((await seats.listBookings(owner, 0, 10)).items).toEqual([]);
      await seats.confirmOnce(owner, hold.holdId, checkoutFor(hold.seats), key);
      expect((await seats.listBookings(owner, 0, 10)).items.map((b) => b.bookingId)).toEqual([first.value.bookingId]);
    });
  });
});
