import { randomUUID } from 'node:crypto';
import { closeRedis, redis } from '../../lib/clients/redis';
import type { Caller } from '../../lib/auth/roles';
import { RedisSeatStore } from '../../functions/seats/store';
import { Broadcaster } from '../../functions/seats/live/broadcaster';
import type { Connections } from '../../functions/seats/live/connections';
import { startMessages, type ServerMessage } from '../../functions/seats/live/messages';
import { LiveStore } from '../../functions/seats/live/store';
import { flightKeys } from '../../functions/seats/keys';
import { sweepWatchedFlights } from '../../functions/seats/live/sweep';
import { ON_SALE_DEPARTURE, seatMap, testFlightId } from '../support/seats';
import { book, payingSeatService } from '../support/checkout';

/**
 * Live seat maps against a real Redis: the change stream the seat scripts write, the broadcast flag,
 * the broadcaster's coalescing and order, catch-up, gone connections, the expiry sweep and tickets.
 * Connections are recorded in memory here; tests/e2e/live.test.ts drives real WebSockets.
 */

const user = (): Caller => ({ userId: randomUUID(), role: 'user', email: '' });
const live = new LiveStore(redis());
const kicks: string[] = [];
const seats = payingSeatService(new RedisSeatStore(redis(), async (flightId) => void kicks.push(flightId)), 60_000);

/** Connections that record what each was sent; those in `gone` answer 410. */
function recordingConnections(gone = new Set<string>()) {
  const sent = new Map<string, ServerMessage[]>();
  const connections: Connections = {
    async send(id, message) {
      if (gone.has(id)) return 'gone';
      sent.set(id, [...(sent.get(id) ?? []), message]);
      return 'sent';
    },
  };
  return { connections, sent };
}

/** A watcher's view of the seats: a snapshot, then every message applied the way API.md says a client does. */
function fold(messages: ServerMessage[]) {
  const state = new Map<string, string>();
  let version = -1;
  for (const message of messages) {
    if (message.type === 'snapshot') {
      state.clear();
      for (const seat of message.seats) state.set(seat.id, seat.status);
      version = message.version;
    } else if (message.type === 'seats') {
      if (message.version <= version) continue;
      if (message.fromVersion > version + 1) throw new Error(`gap: at ${version}, got ${message.fromVersion}..${message.version}`);
      for (const change of message.changes) state.set(change.seat, change.status);
      version = message.version;
    }
  }
  return { state, version };
}

async function newFlight(rows = 2) {
  const flightId = testFlightId();
  await seats.provision(flightId, 1, ON_SALE_DEPARTURE, seatMap(rows));
  return flightId;
}

async function watch(flightId: string, connectionId = randomUUID(), sinceVersion?: number) {
  const start = (await live.watch(flightId, connectionId, Date.now() + 60_000, sinceVersion))!;
  return { connectionId, start, messages: startMessages(flightId, start, sinceVersion) };
}

afterAll(closeRedis);

it('every change reaches the watchers in version order, coalesced, and their folded map equals the seat map', async () => {
  const flightId = await newFlight(3);
  const watchers = [await watch(flightId), await watch(flightId)];
  const { connections, sent } = recordingConnections();
  const broadcaster = new Broadcaster(live, connections, { concurrency: 4, batch: 3 });

  const traveller = user();
  const hold = await seats.hold(traveller, flightId, ['1A', '1B']);
  kicks.length = 0;
  await book(seats, traveller, hold);
  expect(kicks).toEqual([]); // the flag from the hold is still set: one broadcast is asked for at a time
  const otherPerson = user();
  await seats.release(otherPerson, (await seats.hold(otherPerson, flightId, ['2A'])).holdId);
  await seats.cancelBooking(traveller, (await seats.listBookings(traveller, 0, 1)).items[0]!.bookingId);

  await broadcaster.broadcast(flightId);
  const view = await seats.seatMap(flightId);
  for (const watcher of watchers) {
    const messages = [...watcher.messages, ...(sent.get(watcher.connectionId) ?? [])];
    const folded = fold(messages);
    expect(folded.version).toBe(view.version);
    expect(Object.fromEntries(folded.state)).toEqual(Object.fromEntries(view.seats.map((s) => [s.id, s.status])));
    // batches of 3 changes: fewer messages than changes, each run starting where the last ended
    const runs = (sent.get(watcher.connectionId) ?? []).filter((m) => m.type === 'seats');
    expect(runs.length).toBeLessThan(6);
  }
  // the turn is over: the next change asks for a broadcast again
  kicks.length = 0;
  await seats.hold(user(), flightId, ['3A']);
  expect(kicks).toEqual([flightId]);
});

it('a held seat carries when its hold runs out; the sweep reclaims expired holds of watched flights and asks for a broadcast', async () => {
  const flightId = await newFlight(1);
  const shortSeats = payingSeatService(new RedisSeatStore(redis()), 300);
  const watcher = await watch(flightId);
  const { connections, sent } = recordingConnections();
  const broadcaster = new Broadcaster(live, connections);
  const hold = await shortSeats.hold(user(), flightId, ['1C']);
  await broadcaster.broadcast(flightId);
  const held = sent.get(watcher.connectionId)!.find((m) => m.type === 'seats')!;
  expect(held).toMatchObject({ changes: [{ seat: '1C', status: 'held', expiresAt: hold.expiresAt }] });

  await new Promise((r) => setTimeout(r, 400));
  const swept: string[] = [];
  const result = await sweepWatchedFlights(live, async (id) => void swept.push(id));
  expect(swept).toContain(flightId);
  expect(result.kicked).toBeGreaterThanOrEqual(1);
  await broadcaster.broadcast(flightId);
  expect(sent.get(watcher.connectionId)!.at(-1)).toMatchObject({ type: 'seats', changes: [{ seat: '1C', status: 'available' }] });
});

it('a watcher that comes back with its version catches up from the stream; one too far behind gets a snapshot', async () => {
  const flightId = await newFlight(2);
  const first = await watch(flightId);
  expect(first.start.kind).toBe('snapshot');
  const since = first.start.version;
  const traveller = user();
  await book(seats, traveller, (await seats.hold(traveller, flightId, ['1A'])));

  const back = await watch(flightId, first.connectionId, since);
  expect(back.start.kind).toBe('changes');
  expect(back.messages).toEqual([{ type: 'seats', flightId, fromVersion: since + 1, version: since + 2, changes: [{ seat: '1A', status: 'booked' }] }]);
  const current = await watch(flightId, first.connectionId, since + 2);
  expect(current.messages).toEqual([{ type: 'seats', flightId, fromVersion: since + 3, version: since + 2, changes: [] }]);

  await redis().xtrim(`seats:{flight:${flightId}}:changes`, 'MAXLEN', 0);
  expect((await watch(flightId, first.connectionId, since)).start.kind).toBe('snapshot');
  expect((await watch(flightId, first.connectionId, since + 1000)).start.kind).toBe('snapshot');
});

it('a migration and a cancelled flight reach the watchers as seatmap and flight messages', async () => {
  const flightId = await newFlight(1);
  const watcher = await watch(flightId);
  const { connections, sent } = recordingConnections();
  await seats.applySeatMap(flightId, { fenceToken: 1, policy: 'reject', seatMap: seatMap(2) });
  await seats.cancelFlight(flightId);
  await new Broadcaster(live, connections).broadcast(flightId);
  const types = sent.get(watcher.connectionId)!.map((m) => m.type);
  expect(types).toEqual(['seats', 'seatmap', 'flight']);
  expect(sent.get(watcher.connectionId)![1]).toEqual({ type: 'seatmap', flightId, seatMapVersion: 2 });
});

it('a dropped seat that leaves the map once it is freed makes a new map version, named in its own seatmap message', async () => {
  const flightId = await newFlight(2);
  const watcher = await watch(flightId);
  const { connections, sent } = recordingConnections();
  const broadcaster = new Broadcaster(live, connections);
  const traveller = user();
  const hold = await seats.hold(traveller, flightId, ['2A']);
  await seats.applySeatMap(flightId, { fenceToken: 1, policy: 'keep', seatMap: seatMap(1) });
  await broadcaster.broadcast(flightId);
  await seats.release(traveller, hold.holdId);
  await broadcaster.broadcast(flightId);

  const view = await seats.seatMap(flightId);
  expect(view.seatMapVersion).toBe(3);
  expect(view.seats.map((s) => s.id)).not.toContain('2A');
  expect(sent.get(watcher.connectionId)!.filter((m) => m.type === 'seatmap')).toEqual([
    { type: 'seatmap', flightId, seatMapVersion: 2 },
    { type: 'seatmap', flightId, seatMapVersion: 3 },
  ]);
  expect((await watch(flightId)).messages[0]).toMatchObject({ type: 'snapshot', seatMapVersion: 3 });
});

it('two runs of the broadcaster on one flight (a duplicate invoke) never send a watcher out of order', async () => {
  const flightId = await newFlight(3);
  const watcher = await watch(flightId);
  const { connections, sent } = recordingConnections();
  const [first, second] = [new Broadcaster(live, connections, { concurrency: 1, batch: 1 }), new Broadcaster(live, connections, { concurrency: 1, batch: 1 })];
  for (const seat of ['1A', '1B', '1C', '2A', '2B']) await seats.hold(user(), flightId, [seat]);
  await Promise.all([first.broadcast(flightId), second.broadcast(flightId)]);
  await first.broadcast(flightId);
  const runs = (sent.get(watcher.connectionId) ?? []).filter((m) => m.type === 'seats') as { version: number }[];
  const folded = fold([...watcher.messages, ...(sent.get(watcher.connectionId) ?? [])]);
  expect(folded.version).toBe((await seats.seatMap(flightId)).version);
  expect(runs.map((r) => r.version)).toEqual([...runs.map((r) => r.version)].sort((a, b) => a - b));
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The versions of the `seats` runs a watcher was sent, in the order they reached it. */
const runVersions = (messages: ServerMessage[] = []) => messages.flatMap((m) => (m.type === 'seats' ? [m.version] : []));

it('a slow fan-out with hand-overs, and changes that ask for runs meanwhile, still reaches every watcher in version order', async () => {
  const flightId = await newFlight(5);
  const watchers = await Promise.all(Array.from({ length: 6 }, () => watch(flightId)));
  // A throttled broadcaster: each post takes up to 10 ms, and a message counts once its post is done.
  const sent = new Map<string, ServerMessage[]>();
  const connections: Connections = {
    async send(id, message) {
      await sleep(Math.random() * 10);
      sent.set(id, [...(sent.get(id) ?? []), message]);
      return 'sent';
    },
  };
  // Each ask starts a run at once, as an async invoke does; a run hands over after 100 ms (its time limit).
  const runs: Promise<unknown>[] = [];
  const startRun = async (id: string) => void runs.push(new Broadcaster(live, connections, { concurrency: 2, batch: 4 }).broadcast(id, Date.now() + 100, startRun));
  const racing = payingSeatService(new RedisSeatStore(redis(), startRun), 60_000);
  const seatIds = seatMap(5).seats.map((s) => s.id);
  await Promise.all(
    Array.from({ length: 4 }, async (_, loop) => {
      for (let round = 0; round < 40; round += 1) {
        const traveller = user();
        const hold = await racing.hold(traveller, flightId, [seatIds[(loop * 7 + round) % seatIds.length]!]).catch(() => undefined);
        if (hold && round % 2 === 0) await racing.release(traveller, hold.holdId);
      }
    }),
  );
  for (let awaited = 0; awaited < runs.length; ) {
    awaited = runs.length;
    await Promise.all(runs);
  }

  const view = await seats.seatMap(flightId);
  for (const watcher of watchers) {
    const versions = runVersions(sent.get(watcher.connectionId));
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
    const folded = fold([...watcher.messages, ...(sent.get(watcher.connectionId) ?? [])]);
    expect(folded.version).toBe(view.version);
    expect(Object.fromEntries(folded.state)).toEqual(Object.fromEntries(view.seats.map((s) => [s.id, s.status])));
  }
  expect(runs.length).toBeGreaterThan(1);
});

it('a run paused past its lease sends nothing more once another run has the flight', async () => {
  const flightId = await newFlight(2);
  const [first, second] = [await watch(flightId), await watch(flightId)];
  const shortLease = new LiveStore(redis(), 300);
  const sent = new Map<string, ServerMessage[]>();
  // The paused run's first post is delivered, then its process stops (a GC pause, a frozen container) until the test lets it go on.
  let resume!: () => void;
  let pause: Promise<void> | undefined = new Promise<void>((r) => (resume = r));
  const connections: Connections = {
    async send(id, message) {
      sent.set(id, [...(sent.get(id) ?? []), message]);
      const stopped = pause;
      pause = undefined;
      await stopped;
      return 'sent';
    },
  };
  await seats.hold(user(), flightId, ['1A']);
  const paused = new Broadcaster(shortLease, connections, { concurrency: 1, batch: 10 }).broadcast(flightId);
  const bounded = async (what: string, done: () => Promise<boolean>) => {
    for (const deadline = Date.now() + 30_000; !(await done()); await sleep(20)) if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
  };
  await bounded('the paused run sent its first post', async () => sent.size > 0);
  await bounded("the paused run's lease lapsed", async () => (await redis().exists(`seats:{flight:${flightId}}:live-kick`)) === 0);
  // The next change asks for a run, which takes the flight and sends, while the first is still paused.
  await seats.hold(user(), flightId, ['1B']);
  await new Broadcaster(shortLease, connections, { concurrency: 1, batch: 10 }).broadcast(flightId);
  resume();
  await paused;

  for (const watcher of [first, second]) {
    const versions = runVersions(sent.get(watcher.connectionId));
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
    expect(fold([...watcher.messages, ...(sent.get(watcher.connectionId) ?? [])]).state.get('1A')).toBe('held');
  }
});

it('connections that are gone (410) are forgotten; the others still get the changes', async () => {
  const flightId = await newFlight(1);
  const stays = await watch(flightId);
  const leaves = await watch(flightId);
  const { connections, sent } = recordingConnections(new Set([leaves.connectionId]));
  await seats.hold(user(), flightId, ['1A']);
  await new Broadcaster(live, connections).broadcast(flightId);
  expect(sent.get(stays.connectionId)).toHaveLength(1);
  expect(await live.watchers(flightId, Date.now())).toEqual([stays.connectionId]);
});

it('a connection whose post failed (not 410) is caught up by the next run, asked for by the sweep on a quiet flight; with a snapshot once the stream has moved on', async () => {
  const flightId = await newFlight(1);
  const [flaky, steady] = [await watch(flightId), await watch(flightId)];
  const failing = new Set<string>();
  const { connections: recording, sent } = recordingConnections();
  const connections: Connections = {
    async send(id, message) {
      if (failing.has(id)) throw new Error('@connections answered 500');
      return recording.send(id, message);
    },
  };
  const broadcaster = new Broadcaster(live, connections);
  const swept: string[] = [];
  const sweep = async () => {
    swept.length = 0;
    await sweepWatchedFlights(live, async (id) => void swept.push(id));
    return swept.includes(flightId);
  };
  const mapNow = async () => Object.fromEntries((await seats.seatMap(flightId)).seats.map((s) => [s.id, s.status]));
  const folded = (watcher: { connectionId: string; messages: ServerMessage[] }) => Object.fromEntries(fold([...watcher.messages, ...(sent.get(watcher.connectionId) ?? [])]).state);

  failing.add(flaky.connectionId);
  await seats.hold(user(), flightId, ['1A']);
  await broadcaster.broadcast(flightId);
  expect(sent.get(flaky.connectionId)).toBeUndefined();
  failing.clear();
  expect(await sweep()).toBe(true); // nothing changed since, yet a run is asked for
  await broadcaster.broadcast(flightId);
  const version = (await seats.seatMap(flightId)).version;
  expect(sent.get(flaky.connectionId)).toEqual([expect.objectContaining({ type: 'seats', fromVersion: flaky.start.version + 1, version })]);
  expect(runVersions(sent.get(steady.connectionId))).toEqual([version]); // the others are not sent it again
  for (const watcher of [flaky, steady]) expect(folded(watcher)).toEqual(await mapNow());
  expect(await sweep()).toBe(false); // caught up: nothing is owed

  // Again, but the stream no longer holds what it missed: a snapshot.
  failing.add(flaky.connectionId);
  await seats.hold(user(), flightId, ['1B']);
  await broadcaster.broadcast(flightId);
  failing.clear();
  await redis().xtrim(flightKeys(flightId).changes, 'MAXLEN', 0);
  expect(await sweep()).toBe(true);
  await broadcaster.broadcast(flightId);
  expect(sent.get(flaky.connectionId)!.at(-1)).toMatchObject({ type: 'snapshot', version: (await seats.seatMap(flightId)).version });
  for (const watcher of [flaky, steady]) expect(folded(watcher)).toEqual(await mapNow());
});

it('a connection watches at most the limit; tickets work once and only while fresh', async () => {
  const connectionId = randomUUID();
  for (let i = 0; i < 3; i += 1) expect(await live.addSubscription(connectionId, `fl-${i}`, 3, 60_000)).toBe(true);
  expect(await live.addSubscription(connectionId, 'fl-x', 3, 60_000)).toBe(false);
  expect(await live.addSubscription(connectionId, 'fl-1', 3, 60_000)).toBe(true); // already watched
  expect((await live.dropConnection(connectionId)).sort()).toEqual(['fl-0', 'fl-1', 'fl-2']);

  const ticket = await live.issueTicket('u-1', 60);
  expect(await live.redeemTicket(ticket)).toEqual({ userId: 'u-1' });
  expect(await live.redeemTicket(ticket)).toBeUndefined();
  expect(await live.redeemTicket('made-up')).toBeUndefined();
  const anonymous = await live.issueTicket(undefined, 1);
  await new Promise((r) => setTimeout(r, 1_100));
  expect(await live.redeemTicket(anonymous)).toBeUndefined(); // expired
  expect(await live.redeemTicket(await live.issueTicket(undefined, 60))).toEqual({});
});
