import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dynamo } from '../../lib/clients/dynamo';
import { closeRedis, redis, redisAt } from '../../lib/clients/redis';
import { FlightService } from '../../functions/flights/service';
import { DynamoFlightStore } from '../../functions/flights/store';
import { FlightLock } from '../../functions/flights/flight-lock';
import { MigrationStore } from '../../functions/flights/migration-store';
import { MigrationRunner, MigrationService, type RunnerOptions } from '../../functions/flights/migrations';
import { RedisSeatStore } from '../../functions/seats/store';
import type { SeatMapInput } from '../../functions/seats/model';
import { startStack, type Stack } from '../../scripts/stack';
import { flightNumber, seatMap } from '../support/seats';
import { seatsInProcess } from '../../functions/flights/seats-client';
import type { SeatService } from '../../functions/seats/service';
import { payingSeatService } from '../support/checkout';

/**
 * Redlock as designed: the migration lock on three independent redis-servers (started here), taken by
 * majority. With all three, or one of them down, migrations run; with two down, no lock can be had, so
 * a migration waits in the queue with backoff and applies nothing, and runs once the servers are back.
 */

let stack: Stack;
let lock: FlightLock;
let runner: MigrationRunner;
let migrations: MigrationService;
let flights: FlightService;
let seatService: SeatService;
const store = new MigrationStore(dynamo(), process.env.FLIGHTS_TABLE!);
const flightStore = new DynamoFlightStore(dynamo(), process.env.FLIGHTS_TABLE!);
const runnerOptions: RunnerOptions = { leaseMs: 30_000, maxAttempts: 5, retryBaseMs: 200, retryMaxMs: 1_000 };

const lockUrls = () => stack.env.REDLOCK_URLS!.split(',');
const portOf = (url: string) => Number(new URL(url).port);
const lockServer = (i: number) => stack.control('redlock', portOf(lockUrls()[i]!));

beforeAll(async () => {
  stack = await startStack({
    dataDir: mkdtempSync(path.join(tmpdir(), 'flight-booking-redlock-')),
    // Only the three lock servers are started; the seats store and the databases are the shared ones.
    env: { MONGODB_URI: process.env.MONGODB_URI, DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT, REDIS_URL: process.env.REDIS_URL, REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES, AWS_REGION: 'us-east-1' },
    stage: 'test',
    redlockServers: true,
  });
  expect(new Set(lockUrls()).size).toBe(3);
  lock = new FlightLock(lockUrls().map((url) => redisAt(url)), { lockMs: 2_000, waitMs: 600 });
  seatService = payingSeatService(new RedisSeatStore(redis()), 60_000);
  const seats = seatsInProcess(seatService);
  flights = new FlightService(flightStore, seats);
  migrations = new MigrationService(store, flightStore, lock, async () => undefined);
  runner = new MigrationRunner(store, flightStore, seats, lock, runnerOptions);
});

afterAll(async () => {
  await closeRedis();
  await stack?.stop();
});

async function newFlight() {
  return flights.create({ flightNumber: flightNumber(), origin: 'OSL', destination: 'RIX', departureTime: '2027-06-01T07:00:00.000Z', arrivalTime: '2027-06-01T09:00:00.000Z', seatMap: seatMap(2) });
}

const priced = (amount: number): SeatMapInput => ({ seats: seatMap(2).seats.map((s) => ({ ...s, price: { ...s.price, amount } })) });

/** How many of the three servers hold a flight's lock right now. */
async function holders(flightId: string): Promise<number> {
  const answers = await Promise.allSettled(lockUrls().map((url) => redisAt(url).exists(FlightLock.resource(flightId))));
  return answers.filter((a) => a.status === 'fulfilled' && a.value === 1).length;
}

it('takes the lock on all three servers and migrates', async () => {
  const flight = await newFlight();
  let heldBy = 0;
  const watching = new MigrationRunner(store, flightStore, seatsInProcess(seatService), lock, { ...runnerOptions, beforeApply: async () => void (heldBy = await holders(flight.id)) });
  const request = await migrations.request(flight.id, priced(111), 'reject', 'queue');
  expect(await watching.run(request.migrationId)).toMatchObject({ status: 'succeeded', toVersion: 2 });
  expect(heldBy).toBe(3);
  expect(await holders(flight.id)).toBe(0); // released
});

it('with one of the three down, the majority still grants the lock and the migration runs', async () => {
  const flight = await newFlight();
  lockServer(0).kill('SIGKILL');
  try {
    const request = await migrations.request(flight.id, priced(222), 'reject', 'queue');
    expect(await runner.run(request.migrationId)).toMatchObject({ status: 'succeeded', toVersion: 2 });
    expect((await seatService.seatMap(flight.id)).seats.every((s) => s.price.amount === 222)).toBe(true);
  } finally {
    await lockServer(0).restart();
  }
});

it('with two of the three down, the migration waits in the queue with backoff, applies nothing, and runs once they are back', async () => {
  const flight = await newFlight();
  lockServer(0).kill('SIGKILL');
  lockServer(1).kill('SIGKILL');
  const request = await migrations.request(flight.id, priced(333), 'reject', 'queue');
  try {
    const before = Date.now();
    expect(await runner.run(request.migrationId)).toMatchObject({ status: 'queued' });
    const queued = await store.get(request.migrationId);
    expect(queued).toMatchObject({ status: 'queued', attempts: 1, error: expect.stringMatching(/lock could not be had/) });
    expect(Date.parse(queued!.nextAttemptAt)).toBeGreaterThanOrEqual(before + runnerOptions.retryBaseMs);
    // Not due yet: a worker passing by does not take it.
    expect(await runner.run(request.migrationId)).toBeUndefined();
    await new Promise((r) => setTimeout(r, runnerOptions.retryBaseMs + 50));
    expect(await runner.run(request.migrationId)).toMatchObject({ status: 'queued' });
    expect((await store.get(request.migrationId))!.nextAttemptAt > queued!.nextAttemptAt).toBe(true);
    // Nothing was applied without the lock.
    const view = await seatService.seatMap(flight.id);
    expect(view.seatMapVersion).toBe(1);
    expect(view.seats.every((s) => s.price.amount === 10_000)).toBe(true);
  } finally {
    await Promise.all([lockServer(0).restart(), lockServer(1).restart()]);
  }
  await new Promise((r) => setTimeout(r, runnerOptions.retryMaxMs + 50));
  expect(await runner.run(request.migrationId)).toMatchObject({ status: 'succeeded', toVersion: 2 });
  expect((await seatService.seatMap(flight.id)).seats.every((s) => s.price.amount === 333)).toBe(true);
});
