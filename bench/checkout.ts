import { randomBytes, randomUUID } from 'node:crypto';
import { freePort, type Stack } from '../scripts/stack';
import { startBenchOffline } from './lifecycle';
import { cpuSeconds as cpuSecondsOf, fmt, load, repeated, type LoadResult } from './measure';

const cpuSeconds = (pid: number) => cpuSecondsOf(pid) ?? 0;

/**
 * Checkout through sls offline: a hold, then its confirm with passengers and a payment, by concurrent
 * travellers, on a flight with prices (the seats service calls the payments service, which charges
 * stripe-local through Stripe's SDK) and, as the baseline in the same run, on a flight whose seats
 * cost 0 (the same checkout, booked without a charge: the booking path alone). The confirm's latency
 * is reported; the payment server's and the emulator's CPU shares show which one limits.
 */

const CONCURRENCY = 8;
const SEATS_PER_FLIGHT = 1000;

interface CheckoutReport {
  rows: (string | number)[][];
  notes: string[];
}

export async function checkoutBench(stack: Stack, seconds: number, say: (line: string) => void): Promise<CheckoutReport> {
  say(`checkout (hold → paid booking) through sls offline, ${CONCURRENCY} travellers, vs the same checkout of free seats`);
  const { seedAdmin } = await import('../scripts/seed-admin');
  const port = await freePort();
  const offline = await startBenchOffline({ port, lambdaPort: await freePort(), stage: 'bench', env: { ...process.env, ...stack.env, PUBLIC_API_URL: `http://127.0.0.1:${port}` }, quiet: true });
  const call = async (method: string, path: string, token?: string, body?: unknown, key?: string) => {
    const response = await fetch(`${offline.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(key ? { 'idempotency-key': key } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  try {
    const admin = { ADMIN_EMAIL: `bench-admin-${randomBytes(4).toString('hex')}@example.com`, ADMIN_PASSWORD: randomBytes(12).toString('base64url') };
    await seedAdmin(admin);
    const adminToken = (await call('POST', '/auth/login', undefined, { email: admin.ADMIN_EMAIL, password: admin.ADMIN_PASSWORD })).body.accessToken as string;
    const travellers = await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, i) => {
        const email = `bench-payer-${i}-${randomBytes(4).toString('hex')}@example.com`;
        return (await call('POST', '/auth/register', undefined, { email, password: 'bench password', name: 'Bench' })).body.accessToken as string;
      }),
    );
    const seatIds = Array.from({ length: SEATS_PER_FLIGHT / 10 }, (_, row) => [...'ABCDEFGHJK'].map((letter) => `${row + 1}${letter}`)).flat();
    /** A new flight per run: every checkout takes a free seat of its own. */
    const newFlight = async (amount: number) => {
      const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
      const seatMap = { seats: seatIds.map((id) => ({ id, class: 'economy', price: { amount, currency: 'EUR' } })) };
      const flightNumber = `BC${1000 + (randomBytes(2).readUInt16BE() % 9000)}${'ABCDEFGHJK'[randomBytes(1)[0]! % 10]}`;
      const created = await call('POST', '/flights', adminToken, { flightNumber, origin: 'BEN', destination: 'CHK', departureTime: `${day}T08:00:00Z`, arrivalTime: `${day}T10:00:00Z`, seatMap });
      if (created.status !== 201) throw new Error(`create flight: ${created.status} ${JSON.stringify(created.body)}`);
      return created.body.id as string;
    };
    const confirmMs: number[] = [];
    const run = (amount: number) => async (durationMs: number): Promise<LoadResult> => {
      // Seats are handed out once each; a flight that runs out is followed by a new one (made once,
      // whoever notices first), so a long run never fails for want of seats.
      let flight = { id: newFlight(amount), next: 0 };
      confirmMs.length = 0;
      return load(CONCURRENCY, durationMs, async (worker) => {
        if (flight.next >= seatIds.length) flight = { id: newFlight(amount), next: 0 };
        const current = flight;
        const seat = seatIds[current.next++]!;
        const flightId = await current.id;
        const hold = await call('POST', `/flights/${flightId}/holds`, travellers[worker], { seats: [seat] });
        if (hold.status !== 201) throw new Error(`hold: ${hold.status}`);
        const started = performance.now();
        const checkout = { passengers: [{ seat, firstName: 'Bench', lastName: 'Traveller' }], contact: { email: 'bench@example.com' }, ...(amount > 0 ? { paymentMethod: 'pm_card_visa' } : {}) };
        const booking = await call('POST', `/holds/${hold.body.holdId}/confirm`, travellers[worker], checkout, randomUUID());
        confirmMs.push(performance.now() - started);
        if (booking.status !== 201) throw new Error(`confirm: ${booking.status}`);
      });
    };
    const sorted = () => [...confirmMs].sort((a, b) => a - b);
    const p = (values: number[], q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0;

    const free = await repeated(3, 2_000, run(0), seconds * 1000);
    const freeConfirm = sorted();
    const pids = { payments: stack.control('payments').pid, offline: offline.child.pid! };
    const before = { payments: cpuSeconds(pids.payments), offline: cpuSeconds(pids.offline), at: performance.now() };
    const paid = await repeated(3, 2_000, run(12_345), seconds * 1000);
    const elapsed = (performance.now() - before.at) / 1000;
    const share = (pid: number, start: number) => (cpuSeconds(pid) - start) / elapsed;
    const paidConfirm = sorted();
    const ratio = paid.opsPerSecond / free.opsPerSecond;
    const audit = (await call('GET', '/admin/payments/audit', adminToken)).body as { ok: boolean; problems: string[] };
    return {
      rows: [
        ['8. checkout', `hold → paid booking via sls offline (${CONCURRENCY} travellers)`, fmt(paid.opsPerSecond), fmt(p(paidConfirm, 0.5), 1), fmt(p(paidConfirm, 0.99), 1), paid.errors, `${fmt(ratio, 2)} × the checkout of free seats (${fmt(free.opsPerSecond)}/s)`],
        ['8. checkout', 'hold → free booking via sls offline (baseline: no charge)', fmt(free.opsPerSecond), fmt(p(freeConfirm, 0.5), 1), fmt(p(freeConfirm, 0.99), 1), free.errors, 'baseline'],
      ],
      notes: [
        `Checkout: ops/s are whole checkouts (a hold, then its confirm); p50/p99 are the confirm's alone. During the paid runs stripe-local used ${fmt(share(pids.payments, before.payments) * 100)} % of a core and sls offline ${fmt(share(pids.offline, before.offline) * 100)} %, so the emulator, not the payment server, sets the pace. Payments audit after the runs: ${audit.ok ? 'ok' : `NOT ok: ${audit.problems.slice(0, 3).join('; ')}`}.`,
      ],
    };
  } finally {
    await offline.stop();
  }
}
