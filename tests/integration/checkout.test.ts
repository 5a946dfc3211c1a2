import { randomUUID } from 'node:crypto';
import { closeRedis, redis } from '../../lib/clients/redis';
import type { Caller } from '../../lib/auth/roles';
import { RedisSeatStore } from '../../functions/seats/store';
import { SeatService } from '../../functions/seats/service';
import { idempotencyClaim } from '../../functions/seats/idempotency';
import { book, checkoutFor, paymentsInProcess } from '../support/checkout';
import { ON_SALE_DEPARTURE, seatMap, testFlightId } from '../support/seats';

/**
 * Checkout against the real stores: seats in redis-server, payments in dynalite, the provider the
 * launcher's stripe-local through Stripe's SDK. What a crash leaves half done is made here on purpose:
 * a charge whose confirm died before booking it, a hold that ended while its payment ran.
 */

const person = (): Caller => ({ userId: randomUUID(), role: 'user', email: '' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A seats service and its payments service, each settling through the other, in this process; and the
 * payments service as its sweep runs once the settling time is over (`settled`).
 */
function checkoutServices(holdTtlMs = 60_000, paymentGuardMs = 120_000) {
  const store = new RedisSeatStore(redis());
  const payments = paymentsInProcess(() => seats);
  const seats: SeatService = new SeatService(store, holdTtlMs, { payments: payments.gateway, paymentGuardMs });
  return { store, seats, payments: payments.service, settled: paymentsInProcess(() => seats, 0).service };
}

async function newFlight(seats: SeatService, rows = 2, departureTime = ON_SALE_DEPARTURE, prices?: number) {
  const flightId = testFlightId();
  const map = seatMap(rows, 'AB');
  if (prices !== undefined) for (const seat of map.seats) seat.price.amount = prices;
  await seats.provision(flightId, 1, departureTime, map);
  return flightId;
}

describe('checkout on the real stores', () => {
  afterAll(closeRedis);

  it('books a paid hold, and the payments audit finds the charge and its booking', async () => {
    const { seats, payments } = checkoutServices();
    const traveller = person();
    const flightId = await newFlight(seats);
    const booking = await book(seats, traveller, await seats.hold(traveller, flightId, ['1A', '2B']));
    expect(booking).toMatchObject({ status: 'confirmed', total: { amount: 20_000, currency: 'USD' }, payment: { provider: 'stripe', status: 'succeeded' } });
    const audit = await payments.audit();
    expect(audit.problems.filter((problem) => problem.includes(booking.bookingId) || problem.includes(flightId))).toEqual([]);
  });

  it('a free hold needs no payment method and is recorded as a payment of 0', async () => {
    const { seats } = checkoutServices();
    const traveller = person();
    const flightId = await newFlight(seats, 1, ON_SALE_DEPARTURE, 0);
    const hold = await seats.hold(traveller, flightId, ['1A']);
    const booking = await seats.confirm(traveller, hold.holdId, { ...checkoutFor(['1A']), paymentMethod: undefined });
    expect(booking).toMatchObject({ total: { amount: 0, currency: 'USD' }, payment: { provider: 'none', status: 'succeeded' } });
    const cancelled = await seats.cancelBooking(traveller, booking.bookingId);
    expect(cancelled.payment.status).toBe('refunded');
  });

  it('a charge whose confirm died before booking it is booked by the sweep, with the checkout the hold kept', async () => {
    const { store, seats, payments, settled } = checkoutServices();
    const traveller = person();
    const flightId = await newFlight(seats);
    const hold = await seats.hold(traveller, flightId, ['1B']);
    // The confirm's first steps, then its process dies: the checkout is on the hold, the charge made.
    const begun = await store.beginCheckout(flightId, { holdId: hold.holdId, userId: traveller.userId, guardMs: 120_000, salesCloseMs: 3_600_000, details: checkoutFor(['1B']) });
    const { checkout } = begun as unknown as { checkout: { paymentKey: string; total: { amount: number; currency: string } } };
    const charge = await payments.charge({ paymentKey: checkout.paymentKey, holdId: hold.holdId, flightId, userId: traveller.userId, amount: 10_000, currency: 'USD', paymentMethod: 'pm_card_visa' });
    expect(charge.status).toBe('succeeded');
    expect((await seats.listBookings(traveller, 0, 10)).items).toEqual([]);

    await sleep(5);
    await settled.sweep(100);
    const [booking] = (await seats.listBookings(traveller, 0, 10)).items;
    expect(booking).toMatchObject({ status: 'confirmed', passengers: [{ seat: '1B', lastName: 'TravellerA' }], payment: { status: 'succeeded' } });
    expect((await seats.getHold(traveller, hold.holdId)).status).toBe('confirmed');
    expect((await payments.audit()).problems.filter((problem) => problem.includes(hold.holdId))).toEqual([]);
  });

  it('the same request again, after the sweep booked its checkout, gets that booking (not 409)', async () => {
    const { store, seats, payments, settled } = checkoutServices();
    const traveller = person();
    const flightId = await newFlight(seats);
    const hold = await seats.hold(traveller, flightId, ['2B']);
    const details = checkoutFor(['2B']);
    const claim = idempotencyClaim({ key: randomUUID(), method: 'POST', path: `/holds/${hold.holdId}/confirm`, body: details }, 3600)!;
    // The confirm begins, charges, and dies; the sweep books it; the client retries with its key.
    const begun = (await store.beginCheckout(flightId, { holdId: hold.holdId, userId: traveller.userId, guardMs: 120_000, salesCloseMs: 3_600_000, details }, claim)) as unknown as { checkout: { paymentKey: string } };
    await payments.charge({ paymentKey: begun.checkout.paymentKey, holdId: hold.holdId, flightId, userId: traveller.userId, amount: 10_000, currency: 'USD', paymentMethod: 'pm_card_visa' });
    await sleep(5);
    await settled.sweep(100);
    const [booked] = (await seats.listBookings(traveller, 0, 10)).items;
    const retried = await seats.confirmOnce(traveller, hold.holdId, details, claim);
    expect(retried).toMatchObject({ replayed: true, value: { bookingId: booked!.bookingId } });
    await expect(seats.confirm(traveller, hold.holdId, details)).rejects.toMatchObject({ code: 'HOLD_ALREADY_CONFIRMED' });
  });

  it('a charge whose hold ended while it ran is refunded, and the seat is free', async () => {
    const { store, seats, payments, settled } = checkoutServices(300, 300);
    const traveller = person();
    const flightId = await newFlight(seats);
    const hold = await seats.hold(traveller, flightId, ['2A']);
    const begun = (await store.beginCheckout(flightId, { holdId: hold.holdId, userId: traveller.userId, guardMs: 300, salesCloseMs: 3_600_000, details: checkoutFor(['2A']) })) as unknown as { checkout: { paymentKey: string } };
    await payments.charge({ paymentKey: begun.checkout.paymentKey, holdId: hold.holdId, flightId, userId: traveller.userId, amount: 10_000, currency: 'USD', paymentMethod: 'pm_card_visa' });
    await sleep(700);
    await settled.sweep(100);
    expect((await settled.audit()).problems.filter((problem) => problem.includes(hold.holdId))).toEqual([]);
    const map = await seats.seatMap(flightId);
    expect(map.seats.find((seat) => seat.id === '2A')?.status).toBe('available');
    expect((await seats.listBookings(traveller, 0, 10)).items).toEqual([]);
  });

  it('a hold being paid for outlives its own expiry until the payment ends, and cannot be released meanwhile', async () => {
    const { store, seats } = checkoutServices(300, 60_000);
    const traveller = person();
    const flightId = await newFlight(seats);
    const hold = await seats.hold(traveller, flightId, ['1A']);
    await store.beginCheckout(flightId, { holdId: hold.holdId, userId: traveller.userId, guardMs: 60_000, salesCloseMs: 3_600_000, details: checkoutFor(['1A']) });
    await sleep(500);
    expect((await seats.seatMap(flightId)).seats.find((seat) => seat.id === '1A')?.status).toBe('held');
    expect((await seats.audit(flightId)).ok).toBe(true);
    await expect(seats.release(traveller, hold.holdId)).rejects.toMatchObject({ code: 'PAYMENT_IN_PROGRESS' });
  });

  it('a declined payment replays for its Idempotency-Key and the next attempt gets a new payment key', async () => {
    const { seats, payments } = checkoutServices();
    const traveller = person();
    const flightId = await newFlight(seats);
    const hold = await seats.hold(traveller, flightId, ['2B']);
    const details = checkoutFor(['2B'], 'pm_card_chargeDeclinedInsufficientFunds');
    const claim = idempotencyClaim({ key: randomUUID(), method: 'POST', path: `/holds/${hold.holdId}/confirm`, body: details }, 3600);
    await expect(seats.confirmOnce(traveller, hold.holdId, details, claim)).rejects.toMatchObject({ code: 'PAYMENT_DECLINED', extensions: { declineCode: 'insufficient_funds' } });
    await expect(seats.confirmOnce(traveller, hold.holdId, details, claim)).rejects.toMatchObject({ code: 'PAYMENT_DECLINED', headers: { 'idempotent-replayed': 'true' } });
    const booking = await book(seats, traveller, hold);
    expect(booking.payment.status).toBe('succeeded');
    const audit = await payments.audit();
    expect(audit.problems.filter((problem) => problem.includes(hold.holdId))).toEqual([]);
  });

  it('the audit reports a charge that is neither booked nor refunded once its settling time is over', async () => {
    const { seats, payments, settled } = checkoutServices();
    const traveller = person();
    const flightId = await newFlight(seats);
    const hold = await seats.hold(traveller, flightId, ['1A']);
    await payments.charge({ paymentKey: `${hold.holdId}.5`, holdId: hold.holdId, flightId, userId: traveller.userId, amount: 10_000, currency: 'USD', paymentMethod: 'pm_card_visa' });
    // Within its settling time it is work in flight; past it, a problem until the sweep refunds it.
    expect((await payments.audit()).problems.filter((problem) => problem.includes(hold.holdId))).toEqual([]);
    await sleep(5);
    const audit = await settled.audit();
    expect(audit.ok).toBe(false);
    expect(audit.problems).toContainEqual(expect.stringContaining(`${hold.holdId}.5`));
    await settled.sweep(100);
    expect((await settled.audit()).problems.filter((problem) => problem.includes(hold.holdId))).toEqual([]);
  });
});
