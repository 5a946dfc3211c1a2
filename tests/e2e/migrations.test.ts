import { api, loginAdmin, registerUser } from '../support/http';
import { flightNumber, seatMap } from '../support/seats';

/** Seat-map migrations over HTTP: the request starts the worker (an async Lambda invoke through the emulator). */
describe('seat-map migrations over HTTP', () => {
  let admin: string;
  beforeAll(async () => {
    admin = (await loginAdmin()).accessToken;
  });

  async function createFlight() {
    const res = await api('POST', '/flights', {
      token: admin,
      body: { flightNumber: flightNumber(), origin: 'DUB', destination: 'BOS', departureTime: '2027-04-01T10:00:00Z', arrivalTime: '2027-04-01T17:00:00Z', seatMap: seatMap(2) },
    });
    expect(res.status).toBe(201);
    return res.body as { id: string };
  }

  async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    for (let i = 0; i < 100; i += 1) {
      const value = await read();
      if (done(value)) return value;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('timed out waiting');
  }

  it('PUT a new seat map → 202 → the migration succeeds and the seat map and flight show the new version', async () => {
    const flight = await createFlight();
    const user = await registerUser('migrating');
    const hold = await api('POST', `/flights/${flight.id}/holds`, { token: user.accessToken, body: { seats: ['2F'] } });
    const accepted = await api('PUT', `/flights/${flight.id}/seatmap`, { token: admin, body: { seatMap: seatMap(3), policy: 'reject' } });
    expect(accepted).toMatchObject({ status: 202, body: { migrationId: expect.any(String), status: 'queued' } });
    const report = await until(
      () => api('GET', `/flights/${flight.id}/migrations/${accepted.body.migrationId}`, { token: admin }),
      (r) => ['succeeded', 'failed'].includes(r.body.status),
    );
    expect(report.body).toMatchObject({ status: 'succeeded', fromVersion: 1, toVersion: 2, added: 6, removed: 0, conflicts: [] });
    const map = await api('GET', `/flights/${flight.id}/seats`);
    expect(map.body).toMatchObject({ seatMapVersion: 2, counts: { total: 18, held: 1 } });
    expect((await api('GET', `/flights/${flight.id}`)).body.seatMapVersion).toBe(2);
    expect((await api('GET', `/holds/${hold.body.holdId}`, { token: user.accessToken })).body.status).toBe('active');
  });

  it('a bulk batch is processed and re-posting it returns the same batch', async () => {
    const flights = await Promise.all([createFlight(), createFlight(), createFlight()]);
    const body = { items: flights.map((f) => ({ flightId: f.id, seatMap: seatMap(1) })) };
    const posted = await api('POST', '/admin/migrations', { token: admin, body });
    expect(posted).toMatchObject({ status: 202, body: { batchId: expect.any(String) } });
    expect(posted.body.migrations).toHaveLength(3);
    const report = await until(
      () => api('GET', `/admin/migrations/${posted.body.batchId}`, { token: admin }),
      (r) => r.body.done === true,
    );
    expect(report.body).toMatchObject({ total: 3, counts: { succeeded: 3 } });
    const again = await api('POST', '/admin/migrations', { token: admin, body });
    expect(again.body).toEqual(posted.body);
  });

  describe('bad input', () => {
    let flight: { id: string };
    let user: string;
    beforeAll(async () => {
      flight = await createFlight();
      user = (await registerUser('nomigrate')).accessToken;
    });

    it.each([
      ['an unknown flight', () => ['PUT', '/flights/fl-0000000000000000/seatmap', admin, { seatMap: seatMap(1) }], 404, 'FLIGHT_NOT_FOUND'],
      ['an invalid seat map', () => ['PUT', `/flights/${flight.id}/seatmap`, admin, { seatMap: { seats: [] } }], 400, 'VALIDATION_FAILED'],
      ['an unknown policy', () => ['PUT', `/flights/${flight.id}/seatmap`, admin, { seatMap: seatMap(1), policy: 'yolo' }], 400, 'VALIDATION_FAILED'],
      ['an unknown migration', () => ['GET', `/flights/${flight.id}/migrations/nope`, admin, undefined], 404, 'MIGRATION_NOT_FOUND'],
      ['a batch naming an unknown flight', () => ['POST', '/admin/migrations', admin, { items: [{ flightId: 'fl-0000000000000000', seatMap: seatMap(1) }] }], 400, 'VALIDATION_FAILED'],
      ['a batch naming a flight twice', () => ['POST', '/admin/migrations', admin, { items: [{ flightId: flight.id, seatMap: seatMap(1) }, { flightId: flight.id, seatMap: seatMap(1) }] }], 400, 'VALIDATION_FAILED'],
      ['an empty batch', () => ['POST', '/admin/migrations', admin, { items: [] }], 400, 'VALIDATION_FAILED'],
      ['an unknown batch', () => ['GET', '/admin/migrations/0123456789abcdef01234567', admin, undefined], 404, 'BATCH_NOT_FOUND'],
      ['a user migrating', () => ['PUT', `/flights/${flight.id}/seatmap`, user, { seatMap: seatMap(1) }], 403, undefined],
    ] as [string, () => [string, string, string, unknown], number, string | undefined][])('%s', async (_, request, status, code) => {
      const [method, path, token, body] = request();
      const res = await api(method, path, { token, body });
      expect(res.status).toBe(status);
      if (code) expect(res.body.code).toBe(code);
    });
  });
});
