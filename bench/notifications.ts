import { randomBytes } from 'node:crypto';
import { SESClient, SendEmailCommand } from '@aws-sdk/client-ses';
import { freePort, type Stack } from '../scripts/stack';
import { startBenchOffline } from './lifecycle';
import { fmt, percentile, say } from './measure';
import type { Section } from './report';

/**
 * Booking emails through sls offline: the time from a booking's answer (its event recorded by the
 * confirm's script) to its email in the SES emulator's inbox, for a burst of 1,000 bookings; and the
 * fan-out of a cancelled 300-seat flight, from the DELETE's answer to the last of its 300 emails. The
 * baseline, measured in the same run, is one SendEmail straight to the emulator: what the path
 * (notices stream → relay → notifications service → sender → SES) adds on top of the send itself.
 */

const BURST = 1_000;
const FAN_OUT_SEATS = 300;
const CONCURRENCY = 16;
const SEATS_PER_FLIGHT = 500;

interface InboxEmail {
  destination: { to: string[] };
  subject: string;
}

export async function notificationsBench(stack: Stack): Promise<Section> {
  say(`booking emails through sls offline: a burst of ${BURST} bookings, and a cancelled ${FAN_OUT_SEATS}-seat flight`);
  const { seedAdmin } = await import('../scripts/seed-admin');
  const sesUrl = stack.env.SES_ENDPOINT!;
  const port = await freePort();
  const offline = await startBenchOffline({ port, lambdaPort: await freePort(), stage: 'bench', env: { ...process.env, ...stack.env, PUBLIC_API_URL: `http://127.0.0.1:${port}` }, quiet: true });
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const response = await fetch(`${offline.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  /** When each address's first email was seen in the inbox (polled every 50 ms). */
  const arrivals = new Map<string, number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const { emails } = (await (await fetch(`${sesUrl}/store`)).json()) as { emails: InboxEmail[] };
      const seenAt = performance.now();
      for (const email of emails) for (const to of email.destination.to) if (!arrivals.has(`${to}|${email.subject}`)) arrivals.set(`${to}|${email.subject}`, seenAt);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const arrivalOf = (to: string, subjectPart: string) => [...arrivals].find(([key]) => key.startsWith(`${to}|`) && key.includes(subjectPart))?.[1];
  const waitForAll = async (keys: { to: string; subject: string }[], timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs;
    while (keys.some((k) => arrivalOf(k.to, k.subject) === undefined) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    return keys.map((k) => arrivalOf(k.to, k.subject));
  };

  try {
    const admin = { ADMIN_EMAIL: `bench-admin-${randomBytes(4).toString('hex')}@example.com`, ADMIN_PASSWORD: randomBytes(12).toString('base64url') };
    await seedAdmin(admin);
    const adminToken = (await call('POST', '/auth/login', undefined, { email: admin.ADMIN_EMAIL, password: admin.ADMIN_PASSWORD })).body.accessToken as string;
    const travellers = await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, i) => (await call('POST', '/auth/register', undefined, { email: `bench-mail-${i}-${randomBytes(4).toString('hex')}@example.com`, password: 'bench password', name: 'Bench' })).body.accessToken as string),
    );
    const newFlight = async (seats: number) => {
      const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
      const ids = Array.from({ length: Math.ceil(seats / 10) }, (_, row) => [...'ABCDEFGHJK'].map((letter) => `${row + 1}${letter}`)).flat().slice(0, seats);
      const flightNumber = `NM${1000 + (randomBytes(2).readUInt16BE() % 9000)}${'ABCDEFGHJK'[randomBytes(1)[0]! % 10]}`;
      const seatMap = { seats: ids.map((id) => ({ id, class: 'economy', price: { amount: 0, currency: 'EUR' } })) };
      const created = await call('POST', '/flights', adminToken, { flightNumber, origin: 'BEN', destination: 'EML', departureTime: `${day}T08:00:00Z`, arrivalTime: `${day}T10:00:00Z`, seatMap });
      if (created.status !== 201) throw new Error(`create flight: ${created.status} ${JSON.stringify(created.body)}`);
      return { id: created.body.id as string, seats: ids };
    };
    /** Books every seat of the flights, CONCURRENCY at a time; answers when each booking was answered, by its contact address. */
    const bookAll = async (flights: { id: string; seats: string[] }[], run: string) => {
      const work = flights.flatMap((flight) => flight.seats.map((seat) => ({ flightId: flight.id, seat })));
      const answeredAt = new Map<string, number>();
      let next = 0;
      await Promise.all(
        travellers.map(async (token) => {
          for (let i = next++; i < work.length; i = next++) {
            const { flightId, seat } = work[i]!;
            const hold = await call('POST', `/flights/${flightId}/holds`, token, { seats: [seat] });
            if (hold.status !== 201) throw new Error(`hold: ${hold.status} ${JSON.stringify(hold.body)}`);
            const contact = `${run}-${i}@bench.example`;
            const booked = await call('POST', `/holds/${hold.body.holdId}/confirm`, token, { passengers: [{ seat, firstName: 'Bench', lastName: 'Mail' }], contact: { email: contact } });
            if (booked.status !== 201) throw new Error(`confirm: ${booked.status} ${JSON.stringify(booked.body)}`);
            answeredAt.set(contact, performance.now());
          }
        }),
      );
      return answeredAt;
    };

    // Baseline: SendEmail straight to the emulator, one at a time.
    const ses = new SESClient({ region: 'us-east-1', endpoint: sesUrl, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const direct: number[] = [];
    for (let i = 0; i < 200; i += 1) {
      const started = performance.now();
      await ses.send(new SendEmailCommand({ Source: 'bench@flight-booking.example', Destination: { ToAddresses: [`direct-${i}@bench.example`] }, Message: { Subject: { Data: 'direct' }, Body: { Text: { Data: 'x' } } } }));
      direct.push(performance.now() - started);
    }
    ses.destroy();
    direct.sort((a, b) => a - b);

    // A burst of bookings on two flights.
    const burstRun = `burst${randomBytes(3).toString('hex')}`;
    const flights = await Promise.all(Array.from({ length: BURST / SEATS_PER_FLIGHT }, () => newFlight(SEATS_PER_FLIGHT)));
    const burstStarted = performance.now();
    const answered = await bookAll(flights, burstRun);
    const bookingSeconds = (performance.now() - burstStarted) / 1000;
    const contacts = [...answered.keys()];
    const arrived = await waitForAll(contacts.map((to) => ({ to, subject: 'confirmed' })), 180_000);
    const latencies = contacts.map((to, i) => (arrived[i] ?? Number.NaN) - answered.get(to)!).filter(Number.isFinite).sort((a, b) => a - b);
    const burstMissing = contacts.length - latencies.length;

    // The fan-out of a cancelled flight.
    const fanRun = `fan${randomBytes(3).toString('hex')}`;
    const fanFlight = await newFlight(FAN_OUT_SEATS);
    const fanContacts = [...(await bookAll([fanFlight], fanRun)).keys()];
    await waitForAll(fanContacts.map((to) => ({ to, subject: 'confirmed' })), 120_000);
    const cancelStarted = performance.now();
    const cancelled = await call('DELETE', `/flights/${fanFlight.id}`, adminToken);
    if (cancelled.status !== 200) throw new Error(`cancel flight: ${cancelled.status}`);
    const cancelAnswered = performance.now();
    const fanArrived = await waitForAll(fanContacts.map((to) => ({ to, subject: 'cancelled' })), 180_000);
    const fanTimes = fanArrived.filter((t): t is number => t !== undefined).map((t) => t - cancelAnswered).sort((a, b) => a - b);
    const fanMissing = fanContacts.length - fanTimes.length;

    const directP50 = percentile(direct, 50);
    return {
      rows: [
        [
          '11. notifications',
          `booking → its email, burst of ${BURST} bookings via sls offline (${CONCURRENCY} travellers)`,
          fmt(BURST / bookingSeconds),
          fmt(percentile(latencies, 50), 0),
          fmt(percentile(latencies, 99), 0),
          String(burstMissing),
          `p50 ${fmt(percentile(latencies, 50) / directP50, 0)} × a direct SendEmail`,
        ],
        [
          '11. notifications',
          `flight cancelled → its ${FAN_OUT_SEATS} emails (fan-out) via sls offline`,
          fmt(fanTimes.length / (Math.max(1, fanTimes.at(-1) ?? 1) / 1000)),
          fmt(percentile(fanTimes, 50), 0),
          fmt(percentile(fanTimes, 99), 0),
          String(fanMissing),
          `last after ${fmt((fanTimes.at(-1) ?? 0) / 1000, 1)} s; DELETE answered in ${fmt(cancelAnswered - cancelStarted, 0)} ms`,
        ],
        ['11. notifications', 'SendEmail straight to the SES emulator (baseline)', fmt(1000 / directP50), fmt(directP50, 1), fmt(percentile(direct, 99), 1), '0', 'baseline'],
      ],
      notes: [
        `Notifications: the burst's ops/s are bookings per second; its p50/p99 are from each booking's answer to its email being seen in the inbox (polled every 50 ms, so up to 50 ms of each is the poll). The fan-out row's ops/s are emails per second from the DELETE's answer to the last email. "errors" are emails that did not arrive within 3 minutes. The path is the confirm's script recording the event, a relay started by the first change (one while one is due), the notifications service's intake (100 events per hand-over), and the sender (25 per query, 5 sends at a time); under sls offline every invocation runs in its one process.`,
      ],
    };
  } finally {
    polling = false;
    await poller.catch(() => undefined);
    await offline.stop();
  }
}
