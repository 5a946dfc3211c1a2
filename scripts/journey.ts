import { randomBytes, randomUUID } from 'node:crypto';

/**
 * A traveller's journey through any deployment of the API, step by step, failing on the first surprise:
 * `npm run smoke` walks it against a URL, `npm run deploy:localstack` through LocalStack's API Gateway.
 * With an admin's credentials it creates its own flight (and, asked to, also migrates its seat map
 * and reads the payments audit) and cancels it at the end; without them it books on an existing
 * flight named by `existingRoute`.
 */

export class Surprise extends Error {}

export type Step = <T>(name: string, run: () => Promise<T>) => Promise<T>;

export interface JourneyOptions {
  base: string;
  step: Step;
  admin?: { email: string; password: string };
  /** Where to book without an admin: an existing scheduled flight on this route and day. */
  existingRoute?: { origin?: string; destination?: string; date?: string };
  /** With an admin: a seat-map migration through the worker, and the payments audit. */
  operations?: boolean;
  /** The subjects of the emails sent to an address so far, where the deployment's sent emails can be read. */
  sentEmails?: (to: string) => Promise<string[]>;
}

/** The journey's booking contact: the confirmation email goes here. */
const JOURNEY_CONTACT = 'journey@example.com';

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export function expectThat(condition: boolean, message: string): void {
  if (!condition) throw new Surprise(message);
}

const CALL_TIMEOUT_MS = 30_000;

/** One request; a status other than `expected` is a surprise showing the answer. JSON answers are parsed. */
export async function call(base: string, method: string, path: string, expected: number, options: CallOptions = {}): Promise<any> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  }).catch((error: Error) => {
    throw error.name === 'TimeoutError' ? new Surprise(`${method} ${path}: no answer within ${CALL_TIMEOUT_MS / 1000} s`) : error;
  });
  const text = await response.text();
  if (response.status !== expected) throw new Surprise(`${method} ${path}: expected ${expected}, got ${response.status} ${text.slice(0, 500)}`);
  return response.headers.get('content-type')?.includes('json') && text ? JSON.parse(text) : text;
}

/** Asks until `done` says yes (a migration, a registration), for at most `timeoutMs`. */
async function until<T>(what: string, ask: () => Promise<T>, done: (answer: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await ask();
    if (done(answer)) return answer;
    if (Date.now() > deadline) throw new Surprise(`${what}: still ${JSON.stringify(answer).slice(0, 500)} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * A watcher of one flight's live seat map (API.md, "Live seat maps"): a ticket, the WebSocket API,
 * a subscription; then every seat it has been told is held.
 */
async function watchSeats(base: string, flightId: string): Promise<{ held: Set<string>; close(): void }> {
  const { ticket, url } = await call(base, 'POST', '/realtime/tickets', 201);
  const socket = new WebSocket(`${url}?ticket=${ticket}`);
  const held = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const subscribed = new Promise<void>((resolve, reject) => {
    timer = setTimeout(() => reject(new Surprise(`no snapshot over ${url} within 10 s`)), 10_000);
    socket.addEventListener('error', () => reject(new Surprise(`the WebSocket ${url} did not open`)), { once: true });
    socket.addEventListener('open', () => socket.send(JSON.stringify({ action: 'subscribe', flightId })), { once: true });
    socket.addEventListener('message', (event) => {
      let message: { type?: string; changes?: { seat: string; status: string }[] };
      try {
        message = JSON.parse(String(event.data));
      } catch {
        return reject(new Surprise(`the WebSocket sent what is not JSON: ${String(event.data).slice(0, 200)}`));
      }
      if (message.type === 'snapshot') resolve();
      for (const change of message.changes ?? []) if (change.status === 'held') held.add(change.seat);
    });
  });
  try {
    await subscribed;
  } catch (error) {
    socket.close();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return { held, close: () => socket.close() };
}

const seatMapOf = (rows: number) => ({
  seats: Array.from({ length: rows }, (_, row) => ['A', 'B', 'C', 'D'].map((letter) => ({ id: `${row + 1}${letter}`, class: 'economy', price: { amount: 12_345, currency: 'USD' } }))).flat(),
});

export async function travellerJourney({ base, step, admin: adminAccount, existingRoute, operations, sentEmails }: JourneyOptions): Promise<void> {
  const api = (method: string, path: string, expected: number, options?: CallOptions) => call(base, method, path, expected, options);
  await step('GET /health is ok', async () => expectThat((await api('GET', '/health', 200)).status === 'ok', 'health is not ok'));

  const email = `journey-${randomUUID()}@example.com`;
  const password = randomBytes(12).toString('base64url');
  await step('register', () => api('POST', '/auth/register', 201, { body: { email, password, name: 'Journey Test' } }));
  const { accessToken: token } = await step('log in', () => api('POST', '/auth/login', 200, { body: { email, password } }));
  await step('GET /users/me', async () => expectThat((await api('GET', '/users/me', 200, { token })).email === email, 'me is someone else'));

  const admin = adminAccount ? (await step('admin logs in', () => api('POST', '/auth/login', 200, { body: adminAccount }))).accessToken : undefined;
  const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  const route = admin ? { origin: 'SMK', destination: 'TST', date: day } : (existingRoute ?? {});
  let createdFlightId: string | undefined;
  if (admin) {
    const flightNumber = `SM${1000 + (randomBytes(2).readUInt16BE() % 9000)}`;
    createdFlightId = (
      await step('admin creates a flight', () =>
        api('POST', '/flights', 201, { token: admin, body: { flightNumber, origin: route.origin, destination: route.destination, departureTime: `${day}T08:00:00Z`, arrivalTime: `${day}T10:00:00Z`, seatMap: seatMapOf(1) } }),
      )
    ).id;
  } else if (!route.origin || !route.destination || !route.date) {
    throw new Surprise('no admin credentials and no route of an existing flight: nothing to book on');
  }

  const found = await step('search finds a flight', () => api('GET', `/flights?origin=${route.origin}&destination=${route.destination}&date=${route.date}`, 200));
  const flight = (found.items as { id: string; status: string }[]).find((f) => (createdFlightId ? f.id === createdFlightId : f.status === 'scheduled'));
  expectThat(!!flight, 'the search did not return the flight');
  const flightId = flight!.id;

  const seatsNow = () => api('GET', `/flights/${flightId}/seats`, 200) as Promise<{ seatMapVersion: number; seats: { id: string; status: string }[] }>;
  const map = await step('GET the seat map', seatsNow);
  const free = map.seats.filter((s) => s.status === 'available').slice(0, 2).map((s) => s.id);
  expectThat(free.length === 2, 'fewer than two seats are available');

  const watcher = await step("a watcher subscribes to the flight's live seat map (WebSocket API)", () => watchSeats(base, flightId));
  let hold: { holdId: string };
  try {
    hold = await step(`hold ${free.join(', ')}`, () => api('POST', `/flights/${flightId}/holds`, 201, { token, body: { seats: free }, headers: { 'idempotency-key': randomUUID() } }));
    await step('the seats show as held', async () => {
      const after = await seatsNow();
      expectThat(free.every((id) => after.seats.find((s) => s.id === id)?.status === 'held'), 'the held seats are not shown held');
    });
    await step('the watcher is told the seats are held, live', () => until('the live seat map', async () => [...watcher.held], (seen) => free.every((id) => seen.includes(id)), 10_000));
  } finally {
    watcher.close();
  }
  // Checkout: a passenger per seat, and Stripe's test Visa (the local provider's, or Stripe's own in test mode).
  const checkout = { passengers: free.map((seat) => ({ seat, firstName: 'Journey', lastName: 'Test' })), contact: { email: JOURNEY_CONTACT }, paymentMethod: 'pm_card_visa' };
  const booking = await step('pay for the hold and book it', () => api('POST', `/holds/${hold.holdId}/confirm`, 201, { token, body: checkout, headers: { 'idempotency-key': randomUUID() } }));
  await step('the booking has a reference, tickets and a payment', async () => {
    expectThat(/^[A-Z2-9]{6}$/.test(booking.reference) && booking.passengers.every((p: { ticketNumber: string }) => /^\d{13}$/.test(p.ticketNumber)), 'no reference or tickets');
    expectThat(booking.payment?.status === 'succeeded' && booking.total?.amount > 0, 'not paid');
  });
  if (sentEmails) {
    await step('the confirmation email with the reference arrives', async () => {
      const deadline = Date.now() + 60_000;
      while (!(await sentEmails(JOURNEY_CONTACT)).some((subject) => subject.includes(booking.reference))) {
        expectThat(Date.now() < deadline, `no email to ${JOURNEY_CONTACT} names ${booking.reference} after 60 s`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    });
  }
  await step('the booking is listed', async () => {
    const mine = await api('GET', '/bookings', 200, { token });
    expectThat(mine.items.some((b: { bookingId: string }) => b.bookingId === booking.bookingId), 'the booking is not in /bookings');
  });

  if (admin && operations) {
    await step('a traveller may not call an admin route (403)', () => api('GET', '/admin/users', 403, { token }));
    await step("admin: a seat-map migration runs through the worker, keeping the traveller's seats", async () => {
      const accepted = await api('PUT', `/flights/${flightId}/seatmap`, 202, { token: admin, body: { seatMap: seatMapOf(2) } });
      const report = await until(
        'the migration',
        () => api('GET', `/flights/${flightId}/migrations/${accepted.migrationId}`, 200, { token: admin }),
        (m: { status: string }) => ['succeeded', 'failed'].includes(m.status),
      );
      expectThat(report.status === 'succeeded', `the migration ended ${JSON.stringify(report).slice(0, 500)}`);
      const after = await seatsNow();
      expectThat(after.seats.length === 8 && after.seatMapVersion > map.seatMapVersion, `the seat map was not migrated: ${JSON.stringify(after).slice(0, 300)}`);
      expectThat(free.every((id) => after.seats.find((s) => s.id === id)?.status === 'booked'), 'the booked seats did not survive the migration');
    });
  }

  await step('cancel the booking', async () => expectThat((await api('DELETE', `/bookings/${booking.bookingId}`, 200, { token })).status === 'cancelled', 'not cancelled'));
  await step('the seats are available again', async () => {
    const after = await seatsNow();
    expectThat(free.every((id) => after.seats.find((s) => s.id === id)?.status === 'available'), 'the seats did not come back');
  });

  if (admin) {
    await step('admin: the seat audit is ok', async () => expectThat((await api('GET', `/admin/flights/${flightId}/seats/audit`, 200, { token: admin })).ok === true, 'audit found problems'));
    if (operations) {
      await step('admin: the payments audit is ok (the charge ended as a refund)', async () => {
        await until(
          'the payments audit',
          () => api('GET', '/admin/payments/audit', 200, { token: admin }),
          (audit: { ok: boolean; counts: { payments: number; refunds: number } }) => audit.ok && audit.counts.payments > 0 && audit.counts.refunds > 0,
        );
      });
    }
    await step('admin: cancel the flight', () => api('DELETE', `/flights/${flightId}`, 200, { token: admin }));
    await step('the flight shows as cancelled', async () => expectThat((await api('GET', `/flights/${flightId}`, 200)).status === 'cancelled', 'the flight is not cancelled'));
  }
}
