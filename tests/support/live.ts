import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { api, registerUser } from './http';
import { asyncApiViolation } from './asyncapi-validator';
import { flightNumber, seatMap, checkoutFor } from './seats';

/**
 * Live seat maps with real WebSocket clients (API.md, "Live seat maps"), against the API of API_URL:
 * watchers get every change in version order and their folded maps equal GET /flights/{id}/seats,
 * after a journey, a migration, a cancellation and a storm; bad tickets are refused; bad messages get
 * their documented error and the connection stays usable. Every message received or sent is checked
 * against docs/asyncapi.yaml. Run through sls offline (tests/e2e/live.test.ts) and through
 * LocalStack's WebSocket API (tests/deploy/localstack.test.ts).
 */

type Message = { type: string; flightId?: string; version?: number; fromVersion?: number; [key: string]: any };

/** A WebSocket client that keeps every message and folds a flight's seats the way API.md tells clients to. */
class Watcher {
  readonly messages: Message[] = [];
  private waiters: (() => void)[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as Message;
      const violation = asyncApiViolation('receive', message);
      if (violation) throw new Error(`AsyncAPI: ${violation} in ${String(event.data)}`);
      this.messages.push(message);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async connect(token?: string): Promise<Watcher> {
    const ticket = await api('POST', '/realtime/tickets', token ? { token } : {});
    expect(ticket.status).toBe(201);
    const socket = new WebSocket(`${ticket.body.url}?ticket=${ticket.body.ticket}`);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new Error('the WebSocket did not open')), { once: true });
    });
    return new Watcher(socket);
  }

  send(message: unknown): void {
    if (typeof message !== 'string') expect(asyncApiViolation('send', message)).toBeUndefined();
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first message from index `from` on that matches; waits for it. */
  async next(match: (message: Message) => boolean, from = 0, timeoutMs = 10_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching message in ${timeoutMs} ms; got ${JSON.stringify(this.messages.slice(from)).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  async subscribe(flightId: string): Promise<Message> {
    const from = this.messages.length;
    this.send({ action: 'subscribe', flightId });
    return this.next((m) => m.flightId === flightId && (m.type === 'snapshot' || m.type === 'error'), from);
  }

  /**
   * The flight's seats as this watcher knows them: its snapshot, then each `seats` run in order. Runs
   * at or below the snapshot's version are skipped; a run that leaves a gap fails the test.
   */
  fold(flightId: string): { version: number; seats: Record<string, string>; versions: number[] } {
    const mine = this.messages.filter((m) => m.flightId === flightId);
    const snapshotAt = mine.findIndex((m) => m.type === 'snapshot');
    const snapshot = mine[snapshotAt]!;
    const seats: Record<string, string> = Object.fromEntries(snapshot.seats.map((s: { id: string; status: string }) => [s.id, s.status]));
    let version = snapshot.version!;
    const versions: number[] = [];
    for (const message of mine.filter((m) => m.type === 'seats')) {
      if (message.version! <= version) continue;
      if (message.fromVersion! > version + 1) throw new Error(`gap: at version ${version}, a run from ${message.fromVersion} to ${message.version}`);
      for (const change of message.changes) seats[change.seat] = change.status;
      version = message.version!;
      versions.push(version);
    }
    return { version, seats, versions };
  }

  /** Waits until this watcher has caught up with the flight's current seat map, and answers both. */
  async caughtUp(flightId: string): Promise<{ folded: Record<string, string>; actual: Record<string, string> }> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const map = await api('GET', `/flights/${flightId}/seats`);
      const folded = this.fold(flightId);
      const actual = Object.fromEntries(map.body.seats.map((s: { id: string; status: string }) => [s.id, s.status]));
      if (folded.version >= map.body.version || Date.now() > deadline) return { folded: folded.seats, actual };
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** The HTTP status of a WebSocket upgrade request: 101 when it is accepted. */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url.replace(/^ws/, 'http'), {
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') },
    });
    req.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve(response.statusCode ?? 0);
    });
    req.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

async function createFlight(admin: string, rows: number) {
  const res = await api('POST', '/flights', {
    token: admin,
    body: { flightNumber: flightNumber(), origin: 'LHR', destination: 'JFK', departureTime: '2027-09-01T10:00:00Z', arrivalTime: '2027-09-01T18:00:00Z', seatMap: seatMap(rows) },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

export async function watchJourney(admin: string): Promise<void> {
  const flightId = await createFlight(admin, 3);
  const [alice, bob] = [await Watcher.connect(), await Watcher.connect((await registerUser('watcher')).accessToken)];
  for (const watcher of [alice, bob]) expect(await watcher.subscribe(flightId)).toMatchObject({ type: 'snapshot', flightId, seatMapVersion: 1 });

  const traveller = await registerUser('traveller');
  const hold = await api('POST', `/flights/${flightId}/holds`, { token: traveller.accessToken, body: { seats: ['1A', '1B'] } });
  const held = await alice.next((m) => m.type === 'seats' && m.changes.some((c: { seat: string }) => c.seat === '1A'));
  expect(held.changes).toEqual(expect.arrayContaining([{ seat: '1A', status: 'held', expiresAt: hold.body.expiresAt }]));
  const booking = await api('POST', `/holds/${hold.body.holdId}/confirm`, { token: traveller.accessToken, body: checkoutFor(hold.body.seats) });
  expect(booking.status).toBe(201);
  const second = await api('POST', `/flights/${flightId}/holds`, { token: traveller.accessToken, body: { seats: ['2C'] } });
  expect((await api('DELETE', `/holds/${second.body.holdId}`, { token: traveller.accessToken })).status).toBe(204);
  expect((await api('DELETE', `/bookings/${booking.body.bookingId}`, { token: traveller.accessToken })).status).toBe(200);

  for (const watcher of [alice, bob]) {
    const { folded, actual } = await watcher.caughtUp(flightId);
    expect(folded).toEqual(actual);
    const versions = watcher.fold(flightId).versions;
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
  }

  const migration = await api('PUT', `/flights/${flightId}/seatmap`, { token: admin, body: { seatMap: seatMap(4) } });
  expect(migration.status).toBe(202);
  for (const watcher of [alice, bob]) expect(await watcher.next((m) => m.type === 'seatmap' && m.flightId === flightId, 0, 20_000)).toEqual({ type: 'seatmap', flightId, seatMapVersion: 2 });

  expect((await api('DELETE', `/flights/${flightId}`, { token: admin })).status).toBe(200);
  for (const watcher of [alice, bob]) {
    expect(await watcher.next((m) => m.type === 'flight' && m.flightId === flightId)).toEqual({ type: 'flight', flightId, status: 'cancelled' });
    watcher.close();
  }
}

/**
 * `changes` random holds, confirms and releases by `workers` clients at once. Through LocalStack fewer at
 * once: each concurrent request there may start a function's process of its own (a cold start of
 * 0.2–2 s on a busy machine), and a confirm that waits that long for the payments service fails over
 * to 503, as it should.
 */
export async function watchStorm(admin: string, { changes = 2_000, workers = 8 } = {}): Promise<void> {
  const flightId = await createFlight(admin, 10);
  const watchers = [await Watcher.connect(), await Watcher.connect()];
  for (const watcher of watchers) await watcher.subscribe(flightId);
  const people = await Promise.all(Array.from({ length: 12 }, () => registerUser('storm')));
  const seatIds = seatMap(10).seats.map((s) => s.id);
  const holds: { holdId: string; seats: string[]; token: string }[] = [];
  const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!;

  let done = 0;
  const statuses: Record<number, number> = {};
  const worker = async () => {
    while (done < changes) {
      done += 1;
      const roll = Math.random();
      let status: number;
      if (roll < 0.5 || holds.length === 0) {
        const person = pick(people);
        const res = await api('POST', `/flights/${flightId}/holds`, { token: person.accessToken, body: { seats: [...new Set([pick(seatIds), pick(seatIds)])] } });
        if (res.status === 201) holds.push({ holdId: res.body.holdId, seats: res.body.seats, token: person.accessToken });
        status = res.status;
      } else {
        const hold = holds.splice(Math.floor(Math.random() * holds.length), 1)[0]!;
        status = roll < 0.75 ? (await api('POST', `/holds/${hold.holdId}/confirm`, { token: hold.token, body: checkoutFor(hold.seats) })).status : (await api('DELETE', `/holds/${hold.holdId}`, { token: hold.token })).status;
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  expect(Object.fromEntries(Object.entries(statuses).filter(([status]) => Number(status) >= 500))).toEqual({});
  // Seats run out (every confirm books one or two of the 40 for good) and people reach the hold cap, so most
  // holds are refused once the flight fills: 94 to 150 changes succeed depending on the dice. At least
  // 50 means the storm changed the map many times over.
  expect((statuses[201] ?? 0) + (statuses[204] ?? 0)).toBeGreaterThan(50);

  for (const watcher of watchers) {
    const { folded, actual } = await watcher.caughtUp(flightId);
    expect(folded).toEqual(actual);
    watcher.close();
  }
}

export async function refuseBadTickets(): Promise<void> {
  const ticket = (await api('POST', '/realtime/tickets')).body as { ticket: string; url: string };
  expect(await upgradeStatus(ticket.url)).toBe(401);
  expect(await upgradeStatus(`${ticket.url}?ticket=${randomBytes(32).toString('base64url')}`)).toBe(401);
  expect(await upgradeStatus(`${ticket.url}?ticket=${ticket.ticket}`)).toBe(101);
  expect(await upgradeStatus(`${ticket.url}?ticket=${ticket.ticket}`)).toBe(401);
  expect((await api('POST', '/realtime/tickets', { token: 'not.a.token' })).status).toBe(401);
}

export async function answerBadMessages(admin: string): Promise<void> {
  const watcher = await Watcher.connect();
  // Deliberately off the documented messages: sent as text, past the client-side document check.
  const errorAfter = async (message: unknown) => {
    const from = watcher.messages.length;
    watcher.send(message);
    return watcher.next((m) => m.type === 'error', from);
  };
  expect(await errorAfter(JSON.stringify({ action: 'dance' }))).toMatchObject({ code: 'UNKNOWN_ACTION' });
  expect(await errorAfter('not json')).toMatchObject({ code: 'INVALID_JSON' });
  expect(await errorAfter(JSON.stringify({ action: 'subscribe', flightId: 'nope' }))).toMatchObject({ code: 'VALIDATION_FAILED' });
  expect(await errorAfter({ action: 'subscribe', flightId: 'fl-0000000000000000' })).toMatchObject({ code: 'FLIGHT_NOT_FOUND', flightId: 'fl-0000000000000000' });
  expect(await errorAfter(JSON.stringify({ action: 'subscribe', flightId: 'fl-0000000000000000', padding: 'x'.repeat(5_000) }))).toMatchObject({ code: 'MESSAGE_TOO_LARGE' });

  // One after the other: through LocalStack each concurrent creation is a cold function process (and
  // its seats service's), and eleven at once on a busy machine outlast the service calls' 2.5 s.
  const flights: string[] = [];
  for (let i = 0; i < 11; i += 1) flights.push(await createFlight(admin, 1));
  for (const flightId of flights.slice(0, 10)) expect((await watcher.subscribe(flightId)).type).toBe('snapshot');
  expect(await watcher.subscribe(flights[10]!)).toMatchObject({ type: 'error', code: 'TOO_MANY_SUBSCRIPTIONS' });
  const from = watcher.messages.length;
  watcher.send({ action: 'unsubscribe', flightId: flights[0] });
  expect(await watcher.next((m) => m.type === 'unsubscribed', from)).toEqual({ type: 'unsubscribed', flightId: flights[0] });
  expect((await watcher.subscribe(flights[10]!)).type).toBe('snapshot');
  watcher.close();
}
