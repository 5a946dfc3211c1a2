import { dynamo } from '../../lib/clients/dynamo';
import { closeRedis, redis } from '../../lib/clients/redis';
import { FlightService } from '../../functions/flights/service';
import { DynamoFlightStore, routeDayOf } from '../../functions/flights/store';
import { RedisSeatStore } from '../../functions/seats/store';
import { flightNumber, seatMap } from '../support/seats';
import { seatsInProcess } from '../../functions/flights/seats-client';
import { payingSeatService } from '../support/checkout';

/**
 * The flights service on dynalite, wired to the real seats service in process (over redis-server);
 * the HTTP hop through the registry between them is covered end to end.
 */
const seatService = payingSeatService(new RedisSeatStore(redis()), 60_000);
const seatsGateway = seatsInProcess(seatService);
const store = new DynamoFlightStore(dynamo(), process.env.FLIGHTS_TABLE!);
const flights = new FlightService(store, seatsGateway);

const input = (overrides: Record<string, unknown> = {}) => ({
  flightNumber: flightNumber(),
  origin: 'LHR',
  destination: 'CDG',
  departureTime: '2027-01-10T08:00:00.000Z',
  arrivalTime: '2027-01-10T09:30:00.000Z',
  seatMap: seatMap(2),
  ...overrides,
});

describe('flights on dynalite', () => {
  afterAll(closeRedis);

  it('creates a flight with its seat map and refuses the same number on the same day', async () => {
    const data = input();
    const flight = await flights.create(data);
    expect(flight).toMatchObject({ status: 'scheduled', seatMapVersion: 1, origin: 'LHR' });
    expect((await seatService.seatMap(flight.id)).counts.total).toBe(12);
    await expect(flights.create({ ...data, departureTime: '2027-01-10T20:00:00.000Z', arrivalTime: '2027-01-10T21:00:00.000Z' })).rejects.toMatchObject({ code: 'FLIGHT_EXISTS' });
    await expect(flights.create({ ...data, departureTime: '2027-01-11T08:00:00.000Z', arrivalTime: '2027-01-11T09:00:00.000Z' })).resolves.toBeDefined();
  });

  it('leaves nothing behind when the seats service fails half-way', async () => {
    const broken = new FlightService(store, { ...seatsGateway, provision: () => Promise.reject(new Error('seats down')) });
    const data = input();
    await expect(broken.create(data)).rejects.toThrow('seats down');
    // the number is free again, so a retry succeeds
    await expect(flights.create(data)).resolves.toMatchObject({ flightNumber: data.flightNumber });
  });

  it('searches by route and day with cursor pages, in departure order, using the index', async () => {
    const day = '2027-02-01';
    const created = [];
    for (const hour of ['15', '09', '12', '18', '06']) {
      created.push(await flights.create(input({ origin: 'AMS', destination: 'OSL', departureTime: `${day}T${hour}:00:00.000Z`, arrivalTime: `${day}T${hour}:59:00.000Z` })));
    }
    await flights.create(input({ origin: 'AMS', destination: 'OSL', departureTime: '2027-02-02T06:00:00.000Z', arrivalTime: '2027-02-02T07:00:00.000Z' }));
    const routeDay = routeDayOf({ origin: 'AMS', destination: 'OSL', departureTime: `${day}T00:00:00Z` });
    const seen = [];
    let after: Record<string, string> | undefined;
    do {
      const page = await flights.search(routeDay, 2, after);
      seen.push(...page.items.map((f) => f.departureTime.slice(11, 13)));
      after = page.lastKey;
    } while (after);
    expect(seen).toEqual(['06', '09', '12', '15', '18']);
  });

  it('updates the schedule, moving the flight-number claim, and refuses an arrival before departure', async () => {
    const flight = await flights.create(input());
    const moved = await flights.update(flight.id, { departureTime: '2027-01-12T08:00:00.000Z', arrivalTime: '2027-01-12T10:00:00.000Z' });
    expect(moved.departureTime).toBe('2027-01-12T08:00:00.000Z');
    await expect(flights.update(flight.id, { arrivalTime: '2027-01-12T07:00:00.000Z' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await flights.get(flight.id)).arrivalTime).toBe('2027-01-12T10:00:00.000Z');
    // the old day's number is free again
    await expect(flights.create(input({ flightNumber: flight.flightNumber }))).resolves.toBeDefined();
  });

  it('cancels a flight and its seats, idempotently', async () => {
    const flight = await flights.create(input());
    const cancelled = await flights.cancel(flight.id);
    expect(cancelled.status).toBe('cancelled');
    expect((await flights.cancel(flight.id)).status).toBe('cancelled');
    expect((await seatService.seatMap(flight.id)).status).toBe('cancelled');
    await expect(flights.update(flight.id, { origin: 'MAD' })).rejects.toMatchObject({ code: 'FLIGHT_CANCELLED' });
  });
});
