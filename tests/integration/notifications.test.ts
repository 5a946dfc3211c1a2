import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSesLocal } from '../../scripts/stack/ses';
import type { ServerControl, Started } from '../../scripts/stack/process';
import { dynamo } from '../../lib/clients/dynamo';
import type { NotificationEvent } from '../../functions/notifications/model';
import { NotificationService, type FlightDirectory, type Mailer } from '../../functions/notifications/service';
import { sesMailer } from '../../functions/notifications/ses';
import { DynamoDeliveryStore } from '../../functions/notifications/store';
import { inbox, type SentEmail } from '../support/inbox';

/**
 * The notifications service against the real parts: its DynamoDB table (dynalite) and SES's API (the
 * launcher's aws-ses-v2-local, a server of this file's own to kill, through the AWS SDK's SES client). Drills: the same events handed
 * over twice, two senders at once, SES down, SES killed mid-batch, and a sender that dies holding a
 * batch. Every event must end delivered exactly once (or parked, tests/unit/notifications.test.ts).
 */

const store = new DynamoDeliveryStore(dynamo(), process.env.NOTIFICATIONS_TABLE!);
let sesServer: Started;
let control: ServerControl;
let ses: Mailer;
let mail: ReturnType<typeof inbox>;

beforeAll(async () => {
  sesServer = await startSesLocal(mkdtempSync(path.join(tmpdir(), 'ses-drills-')));
  control = sesServer.servers[0]!.control;
  ses = sesMailer({ region: 'us-east-1', from: 'bookings@flight-booking.example', endpoint: sesServer.service.url });
  mail = inbox(sesServer.service.url);
});
afterAll(() => sesServer?.stop());
const flights: FlightDirectory = {
  flight: async () => ({ flightNumber: 'FB 123', origin: 'LHR', destination: 'JFK', departureTime: '2027-10-05T09:30:00Z', arrivalTime: '2027-10-05T17:45:00Z' }),
};
/** Lets the tests move time forward past leases and backoffs. */
let clock = Date.now();
const now = () => clock;
const service = (mailer: Mailer = ses) => new NotificationService(store, mailer, flights, { webAppUrl: 'http://127.0.0.1:9/', now, leaseMs: 60_000 });
const sendAll = (mailer?: Mailer) => service(mailer).sendDue(clock + 60_000);

/** Events of one test: each to an address of its own, so the inbox tells them apart. */
function events(count: number): NotificationEvent[] {
  const run = randomBytes(4).toString('hex');
  return Array.from({ length: count }, (_, i) => ({
    id: `password-changed:${run}:${i}`,
    kind: 'password-changed' as const,
    to: `e${i}-${run}@example.com`,
    name: 'Ada',
    how: 'changed' as const,
    at: '2026-12-07T10:00:00Z',
  }));
}

const inboxCounts = (emails: SentEmail[]) => {
  const counts = new Map<string, number>();
  for (const email of emails) for (const to of email.to) counts.set(to, (counts.get(to) ?? 0) + 1);
  return counts;
};

async function statuses(batch: NotificationEvent[]): Promise<Record<string, number>> {
  const records = await Promise.all(batch.map((event) => store.get(event.id)));
  const tally: Record<string, number> = {};
  for (const record of records) tally[record?.status ?? 'missing'] = (tally[record?.status ?? 'missing'] ?? 0) + 1;
  return tally;
}

beforeEach(() => {
  clock = Date.now();
});

it('takes an event once however often it is handed over, and sends it once', async () => {
  const batch = events(3);
  expect(await store.add(batch, now())).toBe(3);
  expect(await store.add(batch, now())).toBe(0);
  expect(await sendAll()).toMatchObject({ sent: 3, retried: 0, parked: 0 });
  expect(await store.add(batch, now())).toBe(0);
  expect(await sendAll()).toMatchObject({ sent: 0 });
  const counts = inboxCounts(await mail.emails());
  for (const event of batch) expect(counts.get(event.to)).toBe(1);
  const record = await store.get(batch[0]!.id);
  expect(record).toMatchObject({ status: 'sent', messageId: expect.any(String) });
  expect(record?.event).toBeUndefined();
});

it('two senders at once send every event exactly once', async () => {
  const batch = events(120);
  await store.add(batch, now());
  const reports = await Promise.all([sendAll(), sendAll()]);
  expect(reports[0]!.sent + reports[1]!.sent).toBe(120);
  const counts = inboxCounts(await mail.emails());
  expect(batch.map((event) => counts.get(event.to))).toEqual(batch.map(() => 1));
});

it('SES down: every send is retried later with backoff, nothing is lost, and each goes out once SES is back', async () => {
  const batch = events(20);
  await store.add(batch, now());
  control.kill('SIGKILL');
  try {
    const down = await sendAll();
    expect(down).toMatchObject({ sent: 0, retried: 20, parked: 0 });
    expect(await statuses(batch)).toEqual({ pending: 20 });
    const record = await store.get(batch[0]!.id);
    expect(record).toMatchObject({ attempts: 1, refusals: 0 });
    expect(record!.dueAt).toBeGreaterThan(now() + 3_000);
  } finally {
    await control.restart();
  }
  expect(await sendAll()).toMatchObject({ sent: 0 });
  clock += 60_000;
  expect(await sendAll()).toMatchObject({ sent: 20, retried: 0 });
  const counts = inboxCounts(await mail.emails());
  expect(batch.map((event) => counts.get(event.to))).toEqual(batch.map(() => 1));
});

it('SES killed mid-batch: every event ends sent, and exactly once: by the killed server or by the restarted one', async () => {
  const batch = events(150);
  await store.add(batch, now());
  // Which addresses each SES server acknowledged (the killed one's inbox dies with it).
  const acknowledged: Record<'killed' | 'restarted', Set<string>> = { killed: new Set(), restarted: new Set() };
  let server: keyof typeof acknowledged = 'killed';
  const recording: Mailer = {
    async send(email) {
      const answer = await ses.send(email);
      acknowledged[server].add(email.to);
      return answer;
    },
  };
  const running = service(recording).sendDue(clock + 60_000);
  const deadline = Date.now() + 30_000;
  while (acknowledged.killed.size < 30 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  control.kill('SIGKILL');
  const first = await running;
  expect(first.retried).toBeGreaterThan(0);
  await control.restart();
  server = 'restarted';
  clock += 20 * 60_000;
  await service(recording).sendDue(clock + 60_000);
  expect(await statuses(batch)).toEqual({ sent: 150 });
  const inRestartedInbox = inboxCounts(await mail.emails());
  expect([...inRestartedInbox.values()].every((count) => count === 1)).toBe(true);
  for (const event of batch) {
    expect({ to: event.to, killed: acknowledged.killed.has(event.to), restarted: acknowledged.restarted.has(event.to) && inRestartedInbox.get(event.to) === 1 }).toEqual({
      to: event.to,
      killed: !acknowledged.restarted.has(event.to),
      restarted: !acknowledged.killed.has(event.to),
    });
  }
  expect(acknowledged.killed.size).toBeGreaterThanOrEqual(30);
  expect(acknowledged.restarted.size).toBeGreaterThan(0);
});

it('a sender that dies holding a batch: its events are sent by the next run once its lease ends, once each', async () => {
  const batch = events(10);
  await store.add(batch, now());
  // A sender whose every send hangs forever: it has claimed a batch and will never finish it.
  const hung: Mailer = { send: () => new Promise(() => undefined) };
  void service(hung).sendDue(clock + 60_000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await statuses(batch)).toMatchObject({ pending: expect.any(Number), sending: expect.any(Number) });
  expect(await sendAll()).toMatchObject({ sent: 10 - (await statuses(batch)).sending! });
  clock += 61_000;
  await sendAll();
  expect(await statuses(batch)).toEqual({ sent: 10 });
  const counts = inboxCounts(await mail.emails());
  expect(batch.map((event) => counts.get(event.to))).toEqual(batch.map(() => 1));
});
