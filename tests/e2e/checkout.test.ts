import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { serviceToken } from '../../lib/auth/tokens';
import { api, loginAdmin, registerUser } from '../support/http';
import { checkoutFor, flightNumber, seatMap } from '../support/seats';

/**
 * Checkout over HTTP (API.md, Checkout) through sls offline, with the payments service charging the
 * launcher's stripe-local through Stripe's SDK, and stripe-local posting its signed webhooks back.
 */

const REFERENCE = /^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$/;
const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The payments service's records of a hold, read from its table (what the provider was asked for). */
async function paymentsOf(holdId: string): Promise<{ paymentKey: string; status: string; amount: number }[]> {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: process.env.DYNAMODB_ENDPOINT, region: 'us-east-1' }));
  const { Items = [] } = await client.send(new ScanCommand({ TableName: process.env.PAYMENTS_TABLE, FilterExpression: 'holdId = :hold', ExpressionAttributeValues: { ':hold': holdId } }));
  return Items as { paymentKey: string; status: string; amount: number }[];
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < until) {
    await sleep(500);
    value = await read();
  }
  return value;
}

describe('checkout: passengers, payment and a booking reference', () => {
  let admin: string;
  beforeAll(async () => {
    admin = (await loginAdmin()).accessToken;
  });

  async function createFlight(departureTime = '2027-09-01T10:00:00Z', rows = 2) {
    const arrivalTime = new Date(Date.parse(departureTime) + 3 * 3600_000).toISOString();
    const res = await api('POST', '/flights', { token: admin, body: { flightNumber: flightNumber(), origin: 'CPH', destination: 'ATH', departureTime, arrivalTime, seatMap: seatMap(rows) } });
    if (res.status !== 201) throw new Error(`create flight: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; departureTime: string };
  }
  const holdSeats = async (token: string, flightId: string, seats: string[]) => {
    const hold = await api('POST', `/flights/${flightId}/holds`, { token, body: { seats } });
    expect(hold.status).toBe(201);
    return hold.body as { holdId: string; seats: string[]; total: { amount: number; currency: string } };
  };
  const confirm = (token: string, holdId: string, body: unknown, key?: string) =>
    api('POST', `/holds/${holdId}/confirm`, { token, body, ...(key ? { headers: { 'idempotency-key': key } } : {}) });

  it('pays for a hold and books it: a reference, a ticket per passenger, the total charged once', async () => {
    const flight = await createFlight();
    const traveller = await registerUser('checkout');
    const hold = await holdSeats(traveller.accessToken, flight.id, ['1A', '1B']);
    expect(hold.total).toEqual({ amount: 20_000, currency: 'USD' });

    const body = {
      passengers: [
        { seat: '1B', firstName: '  Zoë ', lastName: "O'Brien-Łukasz" },
        { seat: '1A', firstName: '美咲', lastName: 'Tanaka' },
      ],
      contact: { email: 'zoe@example.com', phone: '+45 12 34 56 78' },
      paymentMethod: 'pm_card_visa',
    };
    const booking = await confirm(traveller.accessToken, hold.holdId, body);
    expect(booking).toMatchObject({
      status: 201,
      body: {
        flightId: flight.id,
        userId: traveller.user.id,
        status: 'confirmed',
        total: { amount: 20_000, currency: 'USD' },
        contact: { email: 'zoe@example.com', phone: '+45 12 34 56 78' },
        payment: { provider: 'stripe', paymentId: expect.stringMatching(/^pi_/), status: 'succeeded' },
      },
    });
    expect(booking.body.reference).toMatch(REFERENCE);
    expect(booking.body.passengers.map((p: { seat: string; firstName: string; lastName: string }) => [p.seat, p.firstName, p.lastName])).toEqual([
      ['1B', 'Zoë', "O'Brien-Łukasz"],
      ['1A', '美咲', 'Tanaka'],
    ]);
    const tickets = booking.body.passengers.map((p: { ticketNumber: string }) => p.ticketNumber);
    expect(tickets.every((t: string) => /^\d{13}$/.test(t))).toBe(true);
    expect(new Set(tickets).size).toBe(2);
    expect((await api('GET', `/bookings/${booking.body.bookingId}`, { token: traveller.accessToken })).body).toEqual(booking.body);
    expect((await api('GET', `/holds/${hold.holdId}`, { token: traveller.accessToken })).body).toMatchObject({ status: 'confirmed', bookingId: booking.body.bookingId });
    expect((await paymentsOf(hold.holdId)).map((p) => [p.status, p.amount])).toEqual([['succeeded', 20_000]]);
  });

  it.each([
    ['pm_card_chargeDeclined', 'card_declined'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card'],
    ['pm_card_authenticationRequired', 'authentication_required'],
  ])('a declined card (%s) is 402 %s, books nothing and leaves the hold to pay another way', async (paymentMethod, declineCode) => {
    const flight = await createFlight();
    const traveller = await registerUser('declined');
    const hold = await holdSeats(traveller.accessToken, flight.id, ['2A']);
    const key = randomUUID();
    const declined = await confirm(traveller.accessToken, hold.holdId, checkoutFor(['2A'], paymentMethod), key);
    expect(declined).toMatchObject({ status: 402, body: { code: 'PAYMENT_DECLINED', declineCode } });
    expect(declined.headers.get('content-type')).toBe('application/problem+json');
    // The same request again replays the decline; the hold is as it was.
    expect(await confirm(traveller.accessToken, hold.holdId, checkoutFor(['2A'], paymentMethod), key)).toMatchObject({ status: 402, body: { declineCode } });
    expect((await api('GET', `/holds/${hold.holdId}`, { token: traveller.accessToken })).body).toMatchObject({ status: 'active', seats: ['2A'] });
    expect((await api('GET', `/flights/${flight.id}/seats`)).body.counts).toMatchObject({ held: 1, booked: 0 });
    expect((await api('GET', '/bookings', { token: traveller.accessToken })).body.items).toEqual([]);

    const paid = await confirm(traveller.accessToken, hold.holdId, checkoutFor(['2A']), randomUUID());
    expect(paid).toMatchObject({ status: 201, body: { status: 'confirmed', payment: { status: 'succeeded' } } });
    expect((await paymentsOf(hold.holdId)).map((p) => [p.paymentKey, p.status]).sort()).toEqual([
      [`${hold.holdId}.1`, 'declined'],
      [`${hold.holdId}.2`, 'succeeded'],
    ]);
  });

  it('refuses a checkout that does not name one passenger per held seat, or pays nothing for seats that cost something', async () => {
    const flight = await createFlight();
    const traveller = await registerUser('invalid-checkout');
    const hold = await holdSeats(traveller.accessToken, flight.id, ['1C', '1D']);
    const cases: [string, unknown, string][] = [
      ['a passenger missing', checkoutFor(['1C']), 'passengers'],
      ['a seat that is not held', checkoutFor(['1C', '2D']), 'passengers'],
      ['a seat named twice', checkoutFor(['1C', '1C']), 'passengers'],
      ['no payment method', { ...checkoutFor(['1C', '1D']), paymentMethod: undefined }, 'paymentMethod'],
      ['a name with digits', { ...checkoutFor(['1C', '1D']), passengers: [{ seat: '1C', firstName: 'R2D2', lastName: 'Droid' }, { seat: '1D', firstName: 'A', lastName: 'B' }] }, 'passengers.0.firstName'],
      ['an empty name', { ...checkoutFor(['1C', '1D']), passengers: [{ seat: '1C', firstName: '   ', lastName: 'X' }, { seat: '1D', firstName: 'A', lastName: 'B' }] }, 'passengers.0.firstName'],
      ['a 51-character name', { ...checkoutFor(['1C', '1D']), passengers: [{ seat: '1C', firstName: 'A'.repeat(51), lastName: 'X' }, { seat: '1D', firstName: 'A', lastName: 'B' }] }, 'passengers.0.firstName'],
      ['an email that is not one', { ...checkoutFor(['1C', '1D']), contact: { email: 'not-an-email' } }, 'contact.email'],
      ['a payment method that is not an id', { ...checkoutFor(['1C', '1D']), paymentMethod: '4242424242424242' }, 'paymentMethod'],
      ['an extra field', { ...checkoutFor(['1C', '1D']), cardNumber: '4242424242424242' }, 'cardNumber'],
    ];
    for (const [name, body, field] of cases) {
      const res = await confirm(traveller.accessToken, hold.holdId, body);
      expect({ name, status: res.status, code: res.body?.code, fields: res.body?.errors?.map((e: { field: string }) => e.field) }).toEqual({ name, status: 400, code: 'VALIDATION_FAILED', fields: expect.arrayContaining([field]) });
    }
    expect(await paymentsOf(hold.holdId)).toEqual([]);
    expect((await api('GET', `/holds/${hold.holdId}`, { token: traveller.accessToken })).body.status).toBe('active');
  });

  it('charges once whatever the concurrency: ten confirms with one key, ten with ten keys', async () => {
    const flight = await createFlight();
    const traveller = await registerUser('concurrent');
    const sameKey = await holdSeats(traveller.accessToken, flight.id, ['1E']);
    const key = randomUUID();
    const withOneKey = await Promise.all(Array.from({ length: 10 }, () => confirm(traveller.accessToken, sameKey.holdId, checkoutFor(['1E']), key)));
    expect(withOneKey.map((a) => a.status)).toEqual(Array(10).fill(201));
    expect(new Set(withOneKey.map((a) => a.body.bookingId)).size).toBe(1);
    expect((await paymentsOf(sameKey.holdId)).map((p) => p.status)).toEqual(['succeeded']);

    const manyKeys = await holdSeats(traveller.accessToken, flight.id, ['1F']);
    const withTenKeys = await Promise.all(Array.from({ length: 10 }, () => confirm(traveller.accessToken, manyKeys.holdId, checkoutFor(['1F']), randomUUID())));
    const booked = withTenKeys.filter((a) => a.status === 201);
    expect(booked.length).toBeGreaterThanOrEqual(1);
    expect(new Set(booked.map((a) => a.body.bookingId)).size).toBe(1);
    expect(withTenKeys.filter((a) => a.status !== 201).map((a) => a.body.code)).toEqual(withTenKeys.filter((a) => a.status !== 201).map(() => 'HOLD_ALREADY_CONFIRMED'));
    expect((await paymentsOf(manyKeys.holdId)).map((p) => p.status)).toEqual(['succeeded']);
  });

  it('manage my booking: by reference and a last name, one answer for any mismatch, no account or contact details', async () => {
    const flight = await createFlight();
    const traveller = await registerUser('lookup');
    const hold = await holdSeats(traveller.accessToken, flight.id, ['2B']);
    const booking = (await confirm(traveller.accessToken, hold.holdId, { ...checkoutFor(['2B']), passengers: [{ seat: '2B', firstName: 'Ana', lastName: 'García' }] })).body;
    const found = await api('GET', `/bookings/lookup?reference=${booking.reference.toLowerCase()}&lastName=${encodeURIComponent('  GARCÍA ')}`);
    expect(found).toMatchObject({ status: 200, body: { bookingId: booking.bookingId, reference: booking.reference, passengers: booking.passengers } });
    expect(found.body).not.toHaveProperty('userId');
    expect(found.body).not.toHaveProperty('contact');
    const misses = await Promise.all([
      api('GET', `/bookings/lookup?reference=${booking.reference}&lastName=Garcia`),
      api('GET', `/bookings/lookup?reference=${booking.reference === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}&lastName=García`),
      api('GET', '/bookings/lookup?reference=0O1IL0&lastName=García'),
      api('GET', `/bookings/lookup?reference=${booking.bookingId}&lastName=García`),
    ]);
    expect(misses.map((m) => [m.status, m.body.code, m.body.detail])).toEqual(Array(4).fill([404, 'BOOKING_NOT_FOUND', 'No such booking']));
    expect((await api('GET', '/bookings/lookup?lastName=García')).status).toBe(400);
  });

  it('sales close before departure: no flight in the past, none on sale within the hour, no traveller cancellations then', async () => {
    const past = await api('POST', '/flights', { token: admin, body: { flightNumber: flightNumber(), origin: 'CPH', destination: 'ATH', departureTime: '2020-01-01T10:00:00Z', arrivalTime: '2020-01-01T13:00:00Z', seatMap: seatMap(1) } });
    expect(past).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ field: 'departureTime' }] } });

    const soon = await createFlight(minutesFromNow(30), 1);
    const traveller = await registerUser('closed');
    expect(await api('POST', `/flights/${soon.id}/holds`, { token: traveller.accessToken, body: { seats: ['1A'] } })).toMatchObject({ status: 409, body: { code: 'FLIGHT_CLOSED' } });
    const search = await api('GET', `/flights?origin=CPH&destination=ATH&date=${soon.departureTime.slice(0, 10)}&limit=100`);
    expect(search.body.items.map((f: { id: string }) => f.id)).not.toContain(soon.id);
    expect((await api('GET', `/flights/${soon.id}`)).status).toBe(200);

    // Booked while on sale; then the flight is moved to leave within the hour: the traveller may no
    // longer cancel (a refund), an admin still may.
    const later = await createFlight(minutesFromNow(24 * 60), 1);
    const hold = await holdSeats(traveller.accessToken, later.id, ['1A']);
    const booking = (await confirm(traveller.accessToken, hold.holdId, checkoutFor(['1A']))).body;
    const moved = await api('PATCH', `/flights/${later.id}`, { token: admin, body: { departureTime: minutesFromNow(20), arrivalTime: minutesFromNow(200) } });
    expect(moved.status).toBe(200);
    expect(await api('DELETE', `/bookings/${booking.bookingId}`, { token: traveller.accessToken })).toMatchObject({ status: 409, body: { code: 'FLIGHT_CLOSED' } });
    expect(await api('DELETE', `/bookings/${booking.bookingId}`, { token: admin })).toMatchObject({ status: 200, body: { status: 'cancelled', payment: { status: 'refunded' } } });
  });

  it('cancelling a booking refunds it; cancelling a flight refunds every booking within a minute', async () => {
    const flight = await createFlight();
    const traveller = await registerUser('refunds');
    const first = (await confirm(traveller.accessToken, (await holdSeats(traveller.accessToken, flight.id, ['1A'])).holdId, checkoutFor(['1A']))).body;
    const cancelled = await api('DELETE', `/bookings/${first.bookingId}`, { token: traveller.accessToken });
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'cancelled', payment: { status: 'refunded', refundedAt: expect.any(String) } } });

    const bookings: { bookingId: string }[] = [];
    for (const seat of ['1B', '1C', '2A']) bookings.push((await confirm(traveller.accessToken, (await holdSeats(traveller.accessToken, flight.id, [seat])).holdId, checkoutFor([seat]))).body);
    expect((await api('DELETE', `/flights/${flight.id}`, { token: admin })).status).toBe(200);
    const refunded = await eventually(
      () => Promise.all(bookings.map(async (b) => (await api('GET', `/bookings/${b.bookingId}`, { token: traveller.accessToken })).body)),
      (all) => all.every((b) => b.payment.status === 'refunded'),
    );
    expect(refunded.map((b) => [b.status, b.payment.status])).toEqual(Array(3).fill(['flight_cancelled', 'refunded']));
  });

  it('a charge that no booking took (its hold is not paying for it) is refunded on its webhook', async () => {
    const flight = await createFlight();
    const traveller = await registerUser('orphan');
    const hold = await holdSeats(traveller.accessToken, flight.id, ['2C']);
    // As if a confirm had charged and died before the seats service recorded the checkout: the
    // payments service is asked directly, with a service token.
    const charge = await api('POST', '/internal/payments', {
      token: serviceToken('seats'),
      body: { paymentKey: `${hold.holdId}.7`, holdId: hold.holdId, flightId: flight.id, userId: traveller.user.id, amount: 10_000, currency: 'USD', paymentMethod: 'pm_card_visa' },
    });
    expect(charge).toMatchObject({ status: 200, body: { status: 'succeeded' } });
    // The provider's `payment_intent.succeeded` webhook, as Stripe sends it: the PaymentIntent read back
    // from the provider through its SDK, in a signed event.
    const stripe = new Stripe(process.env.STRIPE_SECRET_KEY!, { host: new URL(process.env.STRIPE_API_URL!).hostname, port: new URL(process.env.STRIPE_API_URL!).port, protocol: 'http' });
    const intent = await stripe.paymentIntents.retrieve(charge.body.paymentId);
    const payload = JSON.stringify({ id: `evt_${randomUUID()}`, object: 'event', type: 'payment_intent.succeeded', created: Math.floor(Date.now() / 1000), data: { object: intent }, livemode: false }, null, 2);
    const webhook = await api('POST', '/payments/webhook', { rawBody: payload, headers: { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: process.env.STRIPE_WEBHOOK_SECRET! }) } });
    expect(webhook.status).toBe(200);
    expect((await paymentsOf(hold.holdId)).map((p) => p.status)).toEqual(['refunded']);
    expect((await api('GET', `/holds/${hold.holdId}`, { token: traveller.accessToken })).body.status).toBe('active');
  });

  it('takes only webhooks signed with its secret, on the raw body', async () => {
    const payload = JSON.stringify({ id: `evt_${randomUUID()}`, object: 'event', type: 'customer.created', data: { object: {} } }, null, 2);
    const signed = Stripe.webhooks.generateTestHeaderString({ payload, secret: process.env.STRIPE_WEBHOOK_SECRET! });
    expect(await api('POST', '/payments/webhook', { rawBody: payload, headers: { 'stripe-signature': signed } })).toMatchObject({ status: 200, body: { received: true } });
    const forged = Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_not_ours' });
    const stale = Stripe.webhooks.generateTestHeaderString({ payload, secret: process.env.STRIPE_WEBHOOK_SECRET!, timestamp: Math.floor(Date.now() / 1000) - 3600 });
    for (const [headers, body] of [
      [{ 'stripe-signature': forged }, payload],
      [{ 'stripe-signature': stale }, payload],
      [{ 'stripe-signature': signed }, payload.replace('customer.created', 'payment_intent.succeeded')],
      [{}, payload],
    ] as const) {
      expect(await api('POST', '/payments/webhook', { rawBody: body, headers })).toMatchObject({ status: 400, body: { code: 'INVALID_SIGNATURE' } });
    }
  });

  it('the payments audit: every charge is a booking or a refund, every booking has its charge', async () => {
    expect((await api('GET', '/admin/payments/audit', { token: (await registerUser('not-admin')).accessToken })).status).toBe(403);
    const audit = await eventually(
      async () => (await api('GET', '/admin/payments/audit', { token: admin })).body,
      (report) => report.ok === true,
    );
    expect(audit).toMatchObject({ ok: true, problems: [] });
    expect(audit.counts.payments).toBeGreaterThan(0);
    expect(audit.counts.refunds).toBeGreaterThan(0);
  });
});
