import { createFlightBody, scheduleProblems, searchDays, searchQuery } from '../../functions/flights/model';
import { seatMapInput } from '../../functions/seats/model';
import { seatMap } from '../support/seats';

describe('flight and seat map validation', () => {
  const valid = { flightNumber: 'BA117', origin: 'LHR', destination: 'JFK', departureTime: '2026-12-24T10:00:00+01:00', arrivalTime: '2026-12-24T18:00:00Z', seatMap: seatMap(2) };

  it('accepts a valid flight and stores times as UTC', () => {
    expect(createFlightBody.parse(valid).departureTime).toBe('2026-12-24T09:00:00.000Z');
  });

  it.each([
    ['a lower-case IATA code', { origin: 'lhr' }],
    ['a four-letter IATA code', { destination: 'KJFK' }],
    ['a time without a zone', { departureTime: '2026-12-24T10:00:00' }],
    ['a flight number with spaces', { flightNumber: 'BA 117' }],
    ['an unknown field', { gate: 'A1' }],
  ])('refuses %s', (_, change) => {
    expect(createFlightBody.safeParse({ ...valid, ...change }).success).toBe(false);
  });

  it('requires arrival after departure, within 48 h, and two airports', () => {
    expect(scheduleProblems({ origin: 'LHR', destination: 'LHR', departureTime: '2026-12-24T10:00:00Z', arrivalTime: '2026-12-24T09:00:00Z' }).map((p) => p.field)).toEqual([
      'destination',
      'arrivalTime',
    ]);
    expect(scheduleProblems({ origin: 'LHR', destination: 'JFK', departureTime: '2026-12-24T10:00:00Z', arrivalTime: '2026-12-27T10:00:00Z' })).toHaveLength(1);
  });

  it.each([
    ['no seats', { seats: [] }],
    ['1001 seats', seatMap(1001, 'A')],
    ['a duplicate seat', { seats: [...seatMap(1).seats, seatMap(1).seats[0]] }],
    ['a bad seat id', { seats: [{ id: '0A', class: 'economy', price: { amount: 1, currency: 'USD' } }] }],
    ['a row over 999', { seats: [{ id: '1000A', class: 'economy', price: { amount: 1, currency: 'USD' } }] }],
    ['a fractional price', { seats: [{ id: '1A', class: 'economy', price: { amount: 1.5, currency: 'USD' } }] }],
    ['an unknown class', { seats: [{ id: '1A', class: 'cargo', price: { amount: 1, currency: 'USD' } }] }],
  ])('refuses a seat map with %s', (_, map) => {
    expect(seatMapInput.safeParse(map).success).toBe(false);
  });

  it('search needs origin, destination and a real date', () => {
    expect(searchQuery.safeParse({ origin: 'LHR', destination: 'JFK', date: '2026-12-24' }).success).toBe(true);
    expect(searchQuery.safeParse({ origin: 'LHR', destination: 'JFK', date: '2026-13-40' }).success).toBe(false);
    expect(searchQuery.safeParse({ origin: 'LHR' }).success).toBe(false);
  });

  it.each(['-1', '4', '1.5', 'two'])('search refuses flexDays=%j', (flexDays) => {
    expect(searchQuery.safeParse({ origin: 'LHR', destination: 'JFK', date: '2026-12-24', flexDays }).success).toBe(false);
  });

  it('search takes flexDays 0 to 3, 0 when left out', () => {
    expect(searchQuery.parse({ origin: 'LHR', destination: 'JFK', date: '2026-12-24' }).flexDays).toBe(0);
    expect(searchQuery.parse({ origin: 'LHR', destination: 'JFK', date: '2026-12-24', flexDays: '3' }).flexDays).toBe(3);
  });
});

describe('the days a search covers (flexDays)', () => {
  it('is the day alone without flexDays', () => {
    expect(searchDays('2026-12-24', 0)).toEqual(['2026-12-24']);
  });

  it('widens to flexDays either side, in order, across the turn of a month and a year', () => {
    expect(searchDays('2026-12-31', 2)).toEqual(['2026-12-29', '2026-12-30', '2026-12-31', '2027-01-01', '2027-01-02']);
    expect(searchDays('2028-03-01', 1)).toEqual(['2028-02-29', '2028-03-01', '2028-03-02']);
  });

  it('counts UTC days, unaffected by a change of daylight saving time', () => {
    expect(searchDays('2027-03-28', 3)).toEqual(['2027-03-25', '2027-03-26', '2027-03-27', '2027-03-28', '2027-03-29', '2027-03-30', '2027-03-31']);
  });
});
