import { localDateTime, utcOffset } from '../../web/src/local-time';

/** How the web app shows a flight's times: at each airport's local time, with its offset from UTC. */

describe('local times with their UTC offset', () => {
  it('gives the offset of the zone at that instant, daylight saving time included', () => {
    expect(utcOffset('2027-01-15T08:05:00Z', 'Europe/Paris')).toBe('+01:00');
    expect(utcOffset('2027-07-15T08:05:00Z', 'Europe/Paris')).toBe('+02:00');
    expect(utcOffset('2027-01-15T08:05:00Z', 'America/New_York')).toBe('-05:00');
    expect(utcOffset('2027-01-15T08:05:00Z', 'Asia/Kolkata')).toBe('+05:30');
    expect(utcOffset('2027-01-15T08:05:00Z', 'Europe/London')).toBe('+00:00');
  });

  it('shows the local time and day as a traveller reads them, with the offset', () => {
    expect(localDateTime('2027-01-15T07:05:00Z', 'Europe/Paris')).toBe('Fri, Jan 15, 2027, 08:05 (UTC+01:00)');
    // 23:30 in New York is already the next day in UTC.
    expect(localDateTime('2027-01-16T04:30:00Z', 'America/New_York')).toBe('Fri, Jan 15, 2027, 23:30 (UTC-05:00)');
  });

  it('falls back to UTC for an airport without a known zone', () => {
    expect(localDateTime('2027-01-15T07:05:00Z', null)).toBe('Fri, Jan 15, 2027, 07:05 (UTC+00:00)');
  });
});
