import { randomUUID } from 'node:crypto';
import { dynamo } from '../../lib/clients/dynamo';
import { closeRedis, redis } from '../../lib/clients/redis';
import type { Caller } from '../../lib/auth/roles';
import { AppError } from '../../lib/http/errors';
import { FlightService } from '../../functions/flights/service';
import { DynamoFlightStore } from '../../functions/flights/store';
import { FlightLock } from '../../functions/flights/flight-lock';
import { MigrationStore } from '../../functions/flights/migration-store';
import { MigrationRunner, MigrationService, type RunnerOptions } from '../../functions/flights/migrations';
import { RedisSeatStore } from '../../functions/seats/store';
import type { SeatMapInput } from '../../functions/seats/model';
import { flightNumber, seatMap } from '../support/seats';
import { seatsInProcess } from '../../functions/flights/seats-client';
import { book, payingSeatService } from '../support/checkout';

/** The migration pipeline against redis-server (seats, Redlock) and dynalite (flights, migrations). */

const table = process.env.FLIGHTS_TABLE!;
const seatService = payingSeatService(new RedisSeatStore(redis()), 60_000);
const seats = seatsInProcess(seatService);
const flightStore = new DynamoFlightStore(dynamo(), table);
const flights = new FlightService(flightStore, seats);
const store = new MigrationStore(dynamo(), table);
const lock = new FlightLock([redis()], { lockMs: 2_000, waitMs: 3_000 });
const noKick = async () => undefined;
const migrations = new MigrationService(store, flightStore, lock, noKick);
const runnerOptions: RunnerOptions = { leaseMs: 30_000, maxAttempts: 3, retryBaseMs: 10, retryMaxMs: 50 };
const runner = new MigrationRunner(store, flightStore, seats, lock, runnerOptions);

const user = (): Caller => ({ userId: randomUUID(), role: 'user', email: '' });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function newFlight(map: SeatMapInput = seatMap(5)) {
  return flights.create({ flightNumber: flightNumber(), origin: 'BER', destination: 'LIS', departureTime: '2027-05-01T07:00:00.000Z', arrivalTime: '2027-05-01T10:00:00.000Z', seatMap: map });
}

function mapWithPrice(rows: number, amount: number, letters = 'ABCDEF'): SeatMapInput {
  return { seats: seatMap(rows, letters).seats.map((s) => ({ ...s, price: { ...s.price, amount } })) };
}

describe('seat-map migrations', () => {
  afterAll(closeRedis);

  it('applies the diff: added seats available, free dropped seats gone, changed prices, statuses kept', async () => {
    const flight = await newFlight(seatMap(2, 'ABC'));
    const owner = user();
    const booked = await book(seatService, owner, (await seatService.hold(owner, flight.id, ['1A'])));
    const held = await seatService.hold(owner, flight.id, ['1B']);
    const next = { seats: [...mapWithPrice(1, 99_900, 'ABC').seats, ...seatMap(3, 'ABC').seats.slice(6)] };
    const report = await migrations.request(flight.id, next, 'reject', 'queue');
    const done = await runner.run(report.migrationId);
    expect(done).toMatchObject({ status: 'succeeded', fromVersion: 1, toVersion: 2, added: 3, removed: 3, changed: 3, conflicts: [] });

    const view = await seatService.seatMap(flight.id);
    expect(view.seats.map((s) => s.id)).toEqual(['1A', '1B', '1C', '3A', '3B', '3C']);
    expect(view.seats.find((s) => s.id === '1A')).toMatchObject({ status: 'booked', price: { amount: 10_000 } });
    expect(view.seats.find((s) => s.id === '1B')).toMatchObject({ status: 'held', price: { amount: 10_000 } });
    expect(view.seats.find((s) => s.id === '1C')).toMatchObject({ status: 'available', price: { amount: 99_900 } });
    // the booking keeps its price; the held seat takes the new price once it is free
    expect((await seatService.getBooking(owner, booked.bookingId)).seats[0]!.price.amount).toBe(10_000);
    await seatService.release(owner, held.holdId);
    expect((await seatService.seatMap(flight.id)).seats.find((s) => s.id === '1B')!.price.amount).toBe(99_900);
    expect((await flights.get(flight.id)).seatMapVersion).toBe(2);
    expect((await seatService.audit(flight.id)).ok).toBe(true);
  });

  it('policy reject: dropping a held or booked seat changes nothing and lists the conflicts', async () => {
    const flight = await newFlight(seatMap(2, 'AB'));
    const owner = user();
    await book(seatService, owner, (await seatService.hold(owner, flight.id, ['2A'])));
    const before = await seatService.seatMap(flight.id);
    const report = await migrations.request(flight.id, seatMap(1, 'AB'), 'reject', 'queue');
    const done = await runner.run(report.migrationId);
    expect(done).toMatchObject({ status: 'failed', error: expect.stringMatching(/rejected/) });
    const stored = await migrations.report(flight.id, report.migrationId);
    expect(stored).toMatchObject({ status: 'failed', conflicts: [{ seat: '2A', status: 'booked', resolution: 'rejected' }] });
    const after = await seatService.seatMap(flight.id);
    expect({ ...after, version: 0 }).toEqual({ ...before, version: 0 });
  });

  it('policy keep: a dropped booked seat stays until released, then leaves the map', async () => {
    const flight = await newFlight(seatMap(2, 'AB'));
    const owner = user();
    const booking = await book(seatService, owner, (await seatService.hold(owner, flight.id, ['2A'])));
    const report = await migrations.request(flight.id, seatMap(1, 'AB'), 'keep', 'queue');
    expect(await runner.run(report.migrationId)).toMatchObject({ status: 'succeeded', removed: 1, conflicts: [{ seat: '2A', status: 'booked' }] });
    expect((await seatService.seatMap(flight.id)).seats.map((s) => s.id)).toEqual(['1A', '1B', '2A']);
    await expect(seatService.hold(user(), flight.id, ['2B'])).rejects.toMatchObject({ code: 'SEAT_NOT_FOUND' });
    expect((await seatService.audit(flight.id)).ok).toBe(true);
    await seatService.cancelBooking(owner, booking.bookingId);
    expect((await seatService.seatMap(flight.id)).seats.map((s) => s.id)).toEqual(['1A', '1B']);
    expect((await seatService.audit(flight.id)).ok).toBe(true);
  });

  it('two migrations of one flight started at the same moment run one after the other; the later one wins; both reports are complete', async () => {
    const flight = await newFlight(seatMap(2));
    const first = await migrations.request(flight.id, mapWithPrice(2, 11_111), 'reject', 'queue');
    await sleep(5);
    const second = await migrations.request(flight.id, mapWithPrice(2, 22_222), 'reject', 'queue');
    const slowRunner = new MigrationRunner(store, flightStore, seats, lock, { ...runnerOptions, beforeApply: () => sleep(200) });
    await Promise.all([slowRunner.run(first.migrationId), slowRunner.run(second.migrationId)]);
    const reports = await Promise.all([first, second].map((m) => migrations.report(flight.id, m.migrationId)));
    expect(reports.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expect(reports.map((r) => [r.fromVersion, r.toVersion]).sort()).toEqual([
      [1, 2],
      [2, 3],
    ]);
    expect(reports.every((r) => r.startedAt && r.finishedAt && r.changed === 12)).toBe(true);
    const winner = reports.find((r) => r.toVersion === 3)!;
    const view = await seatService.seatMap(flight.id);
    expect(view.seatMapVersion).toBe(3);
    expect(view.seats[0]!.price.amount).toBe(winner.migrationId === second.migrationId ? 22_222 : 11_111);
    expect((await flights.get(flight.id)).seatMapVersion).toBe(3);
  });

  it('a migrator that loses its lock mid-way (frozen past the lock TTL) is refused by the fence; the state is what the other wrote', async () => {
    const flight = await newFlight(seatMap(2));
    const frozenLock = new FlightLock([redis()], { lockMs: 300, waitMs: 3_000, extend: false });
    let resume!: () => void;
    const frozen = new MigrationRunner(store, flightStore, seats, frozenLock, {
      ...runnerOptions,
      beforeApply: () => new Promise<void>((r) => (resume = r)),
    });
    const stale = await migrations.request(flight.id, mapWithPrice(2, 1), 'reject', 'queue');
    const fresh = await migrations.request(flight.id, mapWithPrice(2, 2), 'reject', 'queue');
    const staleRun = frozen.run(stale.migrationId);
    await sleep(600); // the frozen migrator's lock has expired
    expect(await runner.run(fresh.migrationId)).toMatchObject({ status: 'succeeded', toVersion: 2 });
    resume();
    // Refused, and queued again: its map is still wanted, after the other one.
    expect(await staleRun).toMatchObject({ status: 'queued' });
    expect(await store.get(stale.migrationId)).toMatchObject({ status: 'queued', error: expect.stringMatching(/^fenced: Fence token 1 is not newer than 2/) });
    const view = await seatService.seatMap(flight.id);
    expect(view.seatMapVersion).toBe(2);
    expect(view.seats.every((s) => s.price.amount === 2)).toBe(true);
  });

  it('a migrator whose lock ran out before it drew its token does not apply', async () => {
    const flight = await newFlight(seatMap(1));
    const lapsed = new MigrationRunner(store, flightStore, seats, new FlightLock([redis()], { lockMs: 300, waitMs: 3_000, extend: false }), runnerOptions);
    const slowToken = store.nextFenceToken.bind(store);
    const slowStore = Object.assign(Object.create(store) as MigrationStore, { nextFenceToken: async (id: string) => (await sleep(400), slowToken(id)) });
    const paused = new MigrationRunner(slowStore, flightStore, seats, new FlightLock([redis()], { lockMs: 300, waitMs: 3_000, extend: false }), runnerOptions);
    const request = await migrations.request(flight.id, mapWithPrice(1, 3), 'reject', 'queue');
    expect(await paused.run(request.migrationId)).toMatchObject({ status: 'queued' });
    expect(await store.get(request.migrationId)).toMatchObject({ error: expect.stringMatching(/lock ran out before the apply/) });
    expect((await seatService.seatMap(flight.id)).seatMapVersion).toBe(1);
    await sleep(runnerOptions.retryMaxMs + 10);
    expect(await lapsed.run(request.migrationId)).toMatchObject({ status: 'succeeded', toVersion: 2 });
  });

  it('a busy lock re-queues the migration with backoff; it runs once the lock is free', async () => {
    const flight = await newFlight(seatMap(1));
    const impatient = new MigrationRunner(store, flightStore, seats, new FlightLock([redis()], { lockMs: 2_000, waitMs: 0 }), runnerOptions);
    const blocker = await lock.acquire(flight.id);
    const request = await migrations.request(flight.id, mapWithPrice(1, 5), 'reject', 'queue');
    await expect(migrations.request(flight.id, mapWithPrice(1, 6), 'reject', 'reject')).rejects.toMatchObject({ code: 'MIGRATION_IN_PROGRESS' });
    expect(await impatient.run(request.migrationId)).toMatchObject({ status: 'queued' });
    expect((await migrations.report(flight.id, request.migrationId)).status).toBe('queued');
    await blocker!.release();
    await sleep(60);
    expect(await impatient.run(request.migrationId)).toMatchObject({ status: 'succeeded' });
  });

  it('a seats service that does not answer: the migration runs again, and fails with a clear reason once its attempts are used up', async () => {
    const flight = await newFlight(seatMap(1));
    const unreachable = { ...seats, applySeatMap: () => Promise.reject(new AppError('SERVICE_UNAVAILABLE')) };
    const broken = new MigrationRunner(store, flightStore, unreachable, lock, runnerOptions);
    const request = await migrations.request(flight.id, mapWithPrice(1, 7), 'reject', 'queue');
    for (let attempt = 1; attempt < runnerOptions.maxAttempts; attempt += 1) {
      expect(await broken.run(request.migrationId)).toMatchObject({ status: 'queued' });
      await sleep(runnerOptions.retryMaxMs + 10);
    }
    expect(await broken.run(request.migrationId)).toMatchObject({ status: 'failed', error: `the seats service did not answer in ${runnerOptions.maxAttempts} attempts` });
    expect((await seatService.seatMap(flight.id)).seatMapVersion).toBe(1);
  });

  it('an apply that happened but was answered 503 (the replicas did not confirm in time) runs again and is recorded', async () => {
    const flight = await newFlight(seatMap(1));
    const appliedThenLost = { ...seats, applySeatMap: async (...args: Parameters<typeof seats.applySeatMap>) => {
      await seats.applySeatMap(...args);
      throw new AppError('SERVICE_UNAVAILABLE');
    } };
    const request = await migrations.request(flight.id, mapWithPrice(1, 9), 'reject', 'queue');
    expect(await new MigrationRunner(store, flightStore, appliedThenLost, lock, runnerOptions).run(request.migrationId)).toMatchObject({ status: 'queued' });
    await sleep(runnerOptions.retryMaxMs + 10);
    expect(await runner.run(request.migrationId)).toMatchObject({ status: 'succeeded', fromVersion: 2, toVersion: 3, changed: 0 });
    expect((await flights.get(flight.id)).seatMapVersion).toBe(3);
    expect((await seatService.seatMap(flight.id)).seats[0]!.price.amount).toBe(9);
  });

  it('a migration left running by a dead worker is taken over when its lease ends', async () => {
    const flight = await newFlight(seatMap(1));
    const request = await migrations.request(flight.id, mapWithPrice(1, 8), 'reject', 'queue');
    const claimed = await store.claim(request.migrationId, new Date(), 50); // this worker "dies" here
    expect(claimed?.status).toBe('running');
    expect(await runner.run(request.migrationId)).toBeUndefined(); // lease still valid
    await sleep(80);
    expect(await runner.run(request.migrationId)).toMatchObject({ status: 'succeeded' });
    expect((await migrations.report(flight.id, request.migrationId)).attempts).toBe(2);
  });

  it('a migration applied but not recorded (DynamoDB failing at the end) stays running and is finished by the next run', async () => {
    const flight = await newFlight(seatMap(1));
    const request = await migrations.request(flight.id, mapWithPrice(1, 9), 'reject', 'queue');
    const failingStore = Object.create(store) as MigrationStore;
    failingStore.finish = () => Promise.reject(new Error('DynamoDB unavailable'));
    const unlucky = new MigrationRunner(failingStore, flightStore, seats, lock, { ...runnerOptions, leaseMs: 50 });
    expect(await unlucky.run(request.migrationId)).toBeUndefined();
    expect((await migrations.report(flight.id, request.migrationId)).status).toBe('running');
    expect((await seatService.seatMap(flight.id)).seats[0]!.price.amount).toBe(9);
    expect(await lock.isHeld(flight.id)).toBe(false);
    await sleep(80);
    expect(await runner.run(request.migrationId)).toMatchObject({ status: 'succeeded', changed: 0, toVersion: 3 });
    expect((await flights.get(flight.id)).seatMapVersion).toBe(3);
  });

  it('drops 20 seats and adds 30 while 50 users hold and confirm: no booking lost or duplicated, audit ok', async () => {
    const flight = await newFlight(seatMap(30)); // 180 seats, rows 1-30
    const next = { seats: [...seatMap(30).seats.filter((s) => !(parseInt(s.id, 10) > 26 || (parseInt(s.id, 10) === 26 && 'ABCDEF'.indexOf(s.id.slice(-1)) < 4))), ...seatMap(35).seats.slice(180)] };
    expect(next.seats).toHaveLength(180 - 28 + 30);
    const users = Array.from({ length: 50 }, user);
    const bookings: string[] = [];
    const load = Promise.all(
      users.map(async (me, i) => {
        for (let round = 0; round < 4; round += 1) {
          const seat = `${1 + ((i + round * 7) % 25)}${'ABCDEF'[(i + round) % 6]}`;
          try {
            const hold = await seatService.hold(me, flight.id, [seat]);
            bookings.push((await book(seatService, me, hold)).bookingId);
          } catch (error) {
            if (!(error instanceof AppError) || !['SEAT_UNAVAILABLE', 'HOLD_EXPIRED'].includes(error.code)) throw error;
          }
        }
      }),
    );
    const request = await migrations.request(flight.id, next, 'keep', 'queue');
    const [, result] = await Promise.all([load, runner.run(request.migrationId)]);
    expect(result).toMatchObject({ status: 'succeeded', added: 30 });
    expect(bookings.length).toBeGreaterThan(0);
    expect(new Set(bookings).size).toBe(bookings.length);
    const found = await Promise.all(bookings.map((id) => seatService.getBooking({ userId: '', role: 'admin', email: '' }, id)));
    expect(found.every((b) => b.status === 'confirmed')).toBe(true);
    const report = await seatService.audit(flight.id);
    expect(report.problems).toEqual([]);
    expect(report.counts.booked).toBe(found.reduce((n, b) => n + b.seats.length, 0));
  });

  it('a bulk batch of 200 flights finishes, and re-posting it changes nothing', async () => {
    const created = [];
    for (let i = 0; i < 200; i += 20) created.push(...(await Promise.all(Array.from({ length: 20 }, () => newFlight(seatMap(2))))));
    const items = created.map((f) => ({ flightId: f.id, seatMap: mapWithPrice(3, 4_200), policy: 'reject' as const }));
    const batch = await migrations.requestBatch(items);
    expect(batch.items).toHaveLength(200);
    await runner.drain(Date.now() + 120_000, 8);
    const report = await migrations.batchReport(batch.batchId);
    expect(report).toMatchObject({ total: 200, done: true, counts: { succeeded: 200, failed: 0, queued: 0, running: 0 } });

    const again = await migrations.requestBatch(items);
    expect(again.batchId).toBe(batch.batchId);
    expect(await runner.drain(Date.now() + 10_000, 8)).toEqual({ ran: 0 });
    const versions = await Promise.all(created.slice(0, 10).map(async (f) => (await seatService.seatMap(f.id)).seatMapVersion));
    expect(versions).toEqual(Array(10).fill(2));
    expect((await migrations.batchReport(batch.batchId)).migrations.every((m) => m.attempts === 1)).toBe(true);
  });
});
