import { createFlightBody, departureDay, scheduleProblems } from '../../functions/flights/model';
import { blockMinutes, economyFare, sampleSchedule } from '../../scripts/sample-schedule';

/** The sample schedule `npm start` seeds (scripts/sample-data.ts): pure, so checked here in full. */

const localTime = (iso: string, timeZone: string) => new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));

describe('the sample schedule', () => {
  const now = new Date('2027-03-20T10:00:00Z');
  const schedule = sampleSchedule(now);

  it('is a month of valid flights between real airports, all on sale from now', () => {
    expect(schedule.length).toBeGreaterThan(900);
    expect(new Set(schedule.map((f) => `${f.origin}-${f.destination}`)).size).toBe(42);
    for (const flight of schedule) {
      expect(createFlightBody.safeParse(flight).success).toBe(true);
      expect(scheduleProblems(flight)).toEqual([]);
      expect(Date.parse(flight.departureTime)).toBeGreaterThan(now.getTime() + 3600_000);
      expect(Date.parse(flight.departureTime)).toBeLessThan(now.getTime() + 31 * 86_400_000);
    }
  });

  it('never repeats a flight number on a day (FLIGHT_EXISTS would refuse it)', () => {
    const keys = schedule.map((f) => `${f.flightNumber}#${departureDay(f.departureTime)}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('departs at the same local time on both sides of a change of daylight saving time', () => {
    // The US moved its clocks on 14 March, Europe on 28 March 2027: London's 11:30 is 11:30Z, then 10:30Z.
    const london = schedule.filter((f) => f.origin === 'LHR' && f.destination === 'JFK');
    expect(new Set(london.map((f) => localTime(f.departureTime, 'Europe/London')))).toEqual(new Set(['11:30']));
    expect(new Set(london.map((f) => f.departureTime.slice(11, 16)))).toEqual(new Set(['11:30', '10:30']));
  });

  it('flies some routes only on some weekdays, so a search finds days without flights', () => {
    const athens = schedule.filter((f) => f.origin === 'MUC' && f.destination === 'ATH').map((f) => new Date(f.departureTime).getUTCDay());
    expect(new Set(athens)).toEqual(new Set([0, 1, 3, 5]));
  });

  it('has cabins of common aircraft, priced in integer minor units of one currency per flight', () => {
    const transatlantic = schedule.find((f) => f.origin === 'LHR' && f.destination === 'JFK')!;
    const classes = new Set(transatlantic.seatMap.seats.map((s) => s.class));
    expect(classes).toEqual(new Set(['first', 'business', 'premium', 'economy']));
    expect(transatlantic.seatMap.seats.every((s) => s.price.currency === 'GBP' && Number.isInteger(s.price.amount))).toBe(true);
    const fare = (cabin: string) => transatlantic.seatMap.seats.find((s) => s.class === cabin)!.price.amount;
    expect(fare('economy')).toBeLessThan(fare('premium'));
    expect(fare('business')).toBeLessThan(fare('first'));
    expect(schedule.find((f) => f.origin === 'JFK')!.seatMap.seats[0]!.price.currency).toBe('USD');
    expect(schedule.find((f) => f.origin === 'CDG')!.seatMap.seats[0]!.price.currency).toBe('EUR');
  });

  it('keeps the seat maps modest: about 200,000 seats in all', () => {
    const seats = schedule.reduce((sum, f) => sum + f.seatMap.seats.length, 0);
    expect(seats).toBeLessThan(250_000);
  });
});

describe('block times and fares', () => {
  it('rounds block times to 5 minutes, with half an hour on the ground', () => {
    expect(blockMinutes(0)).toBe(30);
    expect(blockMinutes(5540)).toBe(445);
    expect(blockMinutes(5540) % 5).toBe(0);
  });

  it('prices by distance, dearer on Fridays and Sundays, ending in 99', () => {
    expect(economyFare(344, 2)).toBe(6999);
    expect(economyFare(344, 5)).toBeGreaterThan(economyFare(344, 2));
    expect(economyFare(5540, 0) % 100).toBe(99);
  });
});
