import { dynamo } from '../../lib/clients/dynamo';
import { closeRedis, redis } from '../../lib/clients/redis';
import { resetConfigCache } from '../../lib/config';
import { searchDays } from '../../functions/flights/model';
import { seatsInProcess } from '../../functions/flights/seats-client';
import { FlightService } from '../../functions/flights/service';
import { DynamoFlightStore, routeDayOf } from '../../functions/flights/store';
import { SeatService } from '../../functions/seats/service';
import { RedisSeatStore } from '../../functions/seats/store';
import { ensureSchema, tableEnvironment } from '../../scripts/stack';
import { seedSampleData } from '../../scripts/sample-seeder';
import { sampleSchedule } from '../../scripts/sample-schedule';
import { seatMap } from '../support/seats';

/**
 * The sample schedule seeded as `npm start` seeds it (scripts/sample-data.ts), on dynalite and
 * redis-server, into flights tables of stages of their own: the run's shared table is never empty.
 */

const now = new Date(Date.now() + 86_400_000);
const seats = new SeatService(new RedisSeatStore(redis()), 600_000);
const testTable = process.env.FLIGHTS_TABLE;

async function useFreshTable(stage: string): Promise<DynamoFlightStore> {
  await ensureSchema(process.env as Record<string, string>, stage);
  process.env.FLIGHTS_TABLE = tableEnvironment(stage).FLIGHTS_TABLE;
  resetConfigCache();
  return new DynamoFlightStore(dynamo(), process.env.FLIGHTS_TABLE!);
}

describe('the sample schedule in the databases', () => {
  afterAll(async () => {
    process.env.FLIGHTS_TABLE = testTable;
    resetConfigCache();
    await closeRedis();
  });

  it('seeds an empty table through the flights service: searchable flights, their seat maps in Redis, their airports; then keeps it', async () => {
    const store = await useFreshTable(`sample${process.pid}`);
    const schedule = sampleSchedule(now, 2);
    expect(await seedSampleData({ now, days: 2 })).toMatch(new RegExp(`^${schedule.length} flights on \\d+ routes between \\d+ airports, 2 days from`));

    const flights = new FlightService(store, seatsInProcess(seats));
    const planned = schedule.find((f) => f.origin === 'LHR' && f.destination === 'JFK')!;
    const found = await flights.search(searchDays(planned.departureTime.slice(0, 10), 1).map((day) => routeDayOf({ ...planned, departureTime: `${day}T00:00:00Z` })), 100);
    const flight = found.items.find((f) => f.departureTime === planned.departureTime)!;
    expect(flight).toMatchObject({ flightNumber: planned.flightNumber, status: 'scheduled', arrivalTime: planned.arrivalTime });
    const map = await seats.seatMap(flight.id);
    expect(map.counts).toEqual({ available: planned.seatMap.seats.length, held: 0, booked: 0, total: planned.seatMap.seats.length });
    expect(new Set(await store.airports())).toEqual(new Set(schedule.flatMap((f) => [f.origin, f.destination])));

    expect(await seedSampleData({ now, days: 2 })).toMatch(/^kept the sample schedule seeded on/);
  });

  it('finishes a seeding that was cut short, skipping the flights already there', async () => {
    const store = await useFreshTable(`resume${process.pid}`);
    const flights = new FlightService(store, seatsInProcess(seats));
    const [first, ...rest] = sampleSchedule(now, 1);
    // What a first start interrupted after one flight leaves: the marker, unstamped, and that flight.
    await dynamo().put({ TableName: process.env.FLIGHTS_TABLE!, Item: { pk: 'SAMPLE#schedule', startedAt: now.toISOString() } });
    await flights.create(first!);
    expect(await seedSampleData({ now, days: 1 })).toMatch(new RegExp(`^${rest.length} flights`));
    expect(await seedSampleData({ now, days: 1 })).toMatch(/^kept/);
  });

  it('adds nothing to a table that holds flights of its own', async () => {
    const store = await useFreshTable(`own${process.pid}`);
    const departure = new Date(now.getTime() + 86_400_000);
    await new FlightService(store, seatsInProcess(seats)).create({
      flightNumber: 'BA117',
      origin: 'LHR',
      destination: 'JFK',
      departureTime: departure.toISOString(),
      arrivalTime: new Date(departure.getTime() + 8 * 3600_000).toISOString(),
      seatMap: seatMap(1),
    });
    expect(await seedSampleData({ now })).toBe('none added: the database already holds flights');
    expect(await store.airports()).toEqual(expect.arrayContaining(['LHR', 'JFK']));
  });
});
