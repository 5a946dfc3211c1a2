import { randomBytes, randomUUID } from 'node:crypto';

/**
 * `npm run smoke -- <API_URL>`: walks a real user journey against any deployment of the API and
 * exits non-zero on the first surprise. With SMOKE_ADMIN_EMAIL / SMOKE_ADMIN_PASSWORD (or ADMIN_EMAIL
 * / ADMIN_PASSWORD) it creates its own flight and cleans up after itself; without them it books on
 * an existing flight found by SMOKE_ORIGIN, SMOKE_DESTINATION and SMOKE_DATE.
 */

class Surprise extends Error {}

const base = (process.argv[2] ?? '').replace(/\/$/, '');
if (!/^https?:\/\//.test(base)) {
  console.error('usage: npm run smoke -- <API_URL>   (e.g. http://localhost:3000)');
  process.exit(2);
}
const adminEmail = process.env.SMOKE_ADMIN_EMAIL ?? process.env.ADMIN_EMAIL;
const adminPassword = process.env.SMOKE_ADMIN_PASSWORD ?? process.env.ADMIN_PASSWORD;

async function call(method: string, path: string, expected: number, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Surprise(`${method} ${path}: expected ${expected}, got ${response.status} ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : undefined;
}

async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await run();
  console.log(`  ✓ ${name} (${Date.now() - started} ms)`);
  return result;
}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new Surprise(message);
}

async function main() {
  console.log(`smoke test against ${base}`);
  await step('GET /health is ok', async () => expect((await call('GET', '/health', 200)).status === 'ok', 'health is not ok'));

  const email = `smoke-${randomUUID()}@example.com`;
  const password = randomBytes(12).toString('base64url');
  await step('register', () => call('POST', '/auth/register', 201, { body: { email, password, name: 'Smoke Test' } }));
  const { accessToken: token } = await step('log in', () => call('POST', '/auth/login', 200, { body: { email, password } }));
  await step('GET /users/me', async () => expect((await call('GET', '/users/me', 200, { token })).email === email, 'me is someone else'));

  const admin = adminEmail && adminPassword ? (await step('admin logs in', () => call('POST', '/auth/login', 200, { body: { email: adminEmail, password: adminPassword } }))).accessToken : undefined;
  const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  const route = admin ? { origin: 'SMK', destination: 'TST', date: day } : { origin: process.env.SMOKE_ORIGIN, destination: process.env.SMOKE_DESTINATION, date: process.env.SMOKE_DATE };
  let createdFlightId: string | undefined;
  if (admin) {
    const seats = ['A', 'B', 'C', 'D'].map((letter) => ({ id: `1${letter}`, class: 'economy', price: { amount: 12_345, currency: 'USD' } }));
    const flightNumber = `SM${1000 + (randomBytes(2).readUInt16BE() % 9000)}`;
    createdFlightId = (
      await step('admin creates a flight', () =>
        call('POST', '/flights', 201, { token: admin, body: { flightNumber, ...route, date: undefined, departureTime: `${day}T08:00:00Z`, arrivalTime: `${day}T10:00:00Z`, seatMap: { seats } } }),
      )
    ).id;
  } else if (!route.origin || !route.destination || !route.date) {
    throw new Surprise('no admin credentials and no SMOKE_ORIGIN / SMOKE_DESTINATION / SMOKE_DATE: nothing to book on');
  }

  const found = await step('search finds a flight', () => call('GET', `/flights?origin=${route.origin}&destination=${route.destination}&date=${route.date}`, 200));
  const flight = (found.items as { id: string; status: string }[]).find((f) => (createdFlightId ? f.id === createdFlightId : f.status === 'scheduled'));
  expect(!!flight, 'the search did not return the flight');
  const flightId = flight!.id;

  const map = await step('GET the seat map', () => call('GET', `/flights/${flightId}/seats`, 200));
  const free = (map.seats as { id: string; status: string }[]).filter((s) => s.status === 'available').slice(0, 2).map((s) => s.id);
  expect(free.length === 2, 'fewer than two seats are available');

  const hold = await step(`hold ${free.join(', ')}`, () => call('POST', `/flights/${flightId}/holds`, 201, { token, body: { seats: free }, headers: { 'idempotency-key': randomUUID() } }));
  await step('the seats show as held', async () => {
    const after = await call('GET', `/flights/${flightId}/seats`, 200);
    expect(free.every((id) => after.seats.find((s: { id: string }) => s.id === id)?.status === 'held'), 'the held seats are not shown held');
  });
  // Checkout: a passenger per seat, and Stripe's test Visa (the local provider's, or Stripe's own in test mode).
  const checkout = { passengers: free.map((seat) => ({ seat, firstName: 'Smoke', lastName: 'Test' })), contact: { email: 'smoke@example.com' }, paymentMethod: 'pm_card_visa' };
  const booking = await step('pay for the hold and book it', () => call('POST', `/holds/${hold.holdId}/confirm`, 201, { token, body: checkout, headers: { 'idempotency-key': randomUUID() } }));
  await step('the booking has a reference, tickets and a payment', async () => {
    expect(/^[A-Z2-9]{6}$/.test(booking.reference) && booking.passengers.every((p: { ticketNumber: string }) => /^\d{13}$/.test(p.ticketNumber)), 'no reference or tickets');
    expect(booking.payment?.status === 'succeeded' && booking.total?.amount > 0, 'not paid');
  });
  await step('the booking is listed', async () => {
    const mine = await call('GET', '/bookings', 200, { token });
    expect(mine.items.some((b: { bookingId: string }) => b.bookingId === booking.bookingId), 'the booking is not in /bookings');
  });
  await step('cancel the booking', async () => expect((await call('DELETE', `/bookings/${booking.bookingId}`, 200, { token })).status === 'cancelled', 'not cancelled'));
  await step('the seats are available again', async () => {
    const after = await call('GET', `/flights/${flightId}/seats`, 200);
    expect(free.every((id) => after.seats.find((s: { id: string }) => s.id === id)?.status === 'available'), 'the seats did not come back');
  });

  if (admin) {
    await step('admin: the seat audit is ok', async () => expect((await call('GET', `/admin/flights/${flightId}/seats/audit`, 200, { token: admin })).ok === true, 'audit found problems'));
    await step('admin: cancel the smoke flight', () => call('DELETE', `/flights/${flightId}`, 200, { token: admin }));
  }
  console.log('smoke test passed');
}

main().catch((error: Error) => {
  console.error(`smoke test FAILED: ${error instanceof Surprise ? error.message : error.stack}`);
  process.exit(1);
});
