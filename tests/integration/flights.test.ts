import { dynamo } from '../../lib/clients/dynamo';
import { closeRedis, redis } from '../../lib/clients/redis';
import { FlightService, type SearchPosition } from '../../functions/flights/service';
import { searchDays } from '../../functions/flights/model';
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

/** Every page of a search, as `DDTHH` of each departure. */
async function searchAll(routeDays: string[], limit: number): Promise<string[]> {
  const seen = [];
  let from: SearchPosition | undefined;
  do {
    const page = await flights.search(routeDays, limit, from);
    expect(page.items.length).toBeLessThanOrEqual(limit);
    seen.push(...page.items.map((f) => f.departureTime.slice(8, 13)));
    from = page.next;
  } while (from);
  return seen;
}

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
    expect(await searchAll([routeDay], 2)).toEqual(['01T06', '01T09', '01T12', '01T15', '01T18']);
  });

  it('searches several days (flexDays) in departure order, a page crossing from one day to the next', async () => {
    const route = { origin: 'BOS', destination: 'SEA' };
    for (const at of ['2027-03-01T20:00', '2027-03-03T07:00', '2027-03-03T05:00', '2027-03-05T09:00', '2027-03-06T09:00']) {
      await flights.create(input({ ...route, departureTime: `${at}:00.000Z`, arrivalTime: `${at.slice(0, 11)}23:59:00.000Z` }));
    }
    const days = searchDays('2027-03-03', 2).map((day) => routeDayOf({ ...route, departureTime: `${day}T00:00:00Z` }));
    for (const limit of [1, 2, 3, 10]) expect(await searchAll(days, limit)).toEqual(['01T20', '03T05', '03T07', '05T09']);
  });

  it('lists the airports flights were scheduled from or to, also after a change of route', async () => {
    const flight = await flights.create(input({ origin: 'ZRH', destination: 'QQX' }));
    await flights.update(flight.id, { destination: 'VIE' });
    expect(await store.airports()).toEqual(expect.arrayContaining(['ZRH', 'QQX', 'VIE']));
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
